"""The office in the browser: server-rendered pages in Bahasa Indonesia for operators, signers,
admins and auditors, on the same services as the API."""
