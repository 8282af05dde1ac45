"""People: units, accounts, logins, sessions, API tokens, activation links, and the policy that
says who may call which route."""
