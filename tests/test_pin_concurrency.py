"""Wrong PINs are counted in the registry, one try at a time however many arrive at once: 200
concurrent guesses on single and bulk signing together check exactly five PINs, the rest are
refused as locked, and so is the right PIN afterwards. A right PIN before the fifth wrong one
signs and starts the count again."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import httpx

from tests.conftest import People, SignerAccount, create_pakta, pakta_data
from tests.people import token_client

# NIPs (birth year 1973, sequence 73x) no other test module uses.
NIP_GUESSED = "197301172001041731"
NIP_FORGETFUL = "197302182001042732"
WRONG_PINS = [f"{n:06d}" for n in range(130_000, 130_000 + 200 * 7, 7)]
GUESSES = 200


def new_pakta(client: httpx.Client, nip: str, **body: object) -> dict[str, Any]:
    """A new pakta integritas of ``nip``, made by ``client``."""
    return cast("dict[str, Any]", create_pakta(client, nip, **body))


def pakta_csv(nip: str, count: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    rows = [pakta_data(nip=nip, tanggal=f"2024-06-{10 + i:02d}") for i in range(count)]
    header = list(rows[0])
    writer.writerow(header)
    writer.writerows([[row[k] for k in header] for row in rows])
    return out.getvalue().encode()


def made_batch(client: httpx.Client, nip: str, count: int) -> dict[str, Any]:
    """A batch of ``count`` pakta of ``nip``, made by the operator from a CSV, once made."""
    response = client.post(
        "/api/v1/batches",
        data={"template": "pakta-integritas", "signers": json.dumps({})},
        files={"file": ("daftar.csv", pakta_csv(nip, count), "text/csv")},
    )
    assert response.status_code == 202, response.text
    batch_id = response.json()["id"]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        batch: dict[str, Any] = client.get(f"/api/v1/batches/{batch_id}").json()
        if batch["status"] == "selesai":
            assert (batch["done"], batch["failed"]) == (count, 0), batch
            return batch
        time.sleep(0.3)
    raise AssertionError(f"batch {batch_id} was not made in time")


def signer_state(people: People, signer: SignerAccount) -> dict[str, Any]:
    return dict(people.admin.client.get(f"/api/v1/signers/{signer.signer_id}").json())


def wrong_pin_entries(people: People, signer_id: str) -> int:
    """The registry's audit entries of wrong PINs of this signer."""
    return sum(
        e["action"] == "signer.wrong_pin" and e["entity_id"] == signer_id
        for e in people.audit_log()
    )


def test_200_concurrent_wrong_pins_on_single_and_bulk_signing_check_exactly_five(
    people: People,
) -> None:
    operator = people.operator.client
    signer = people.signer(NIP_GUESSED, name="Ahmad Wahyuni, S.E.")
    singles = [new_pakta(operator, NIP_GUESSED)["id"] for _ in range(2)]
    batch = made_batch(operator, NIP_GUESSED, 3)
    targets = [
        *(f"/api/v1/documents/{d}/signatures" for d in singles),
        f"/api/v1/batches/{batch['id']}/signatures",
        f"/api/v1/batches/{batch['id']}/signatures",
    ]
    token = signer.client.headers["Authorization"].removeprefix("Bearer ")
    start = threading.Barrier(GUESSES)

    def guess(i: int) -> tuple[str, int, str]:
        path = targets[i % len(targets)]
        with token_client(people.url, token) as client:
            start.wait(timeout=120)
            response = client.post(path, json={"role": "pembuat_pernyataan", "pin": WRONG_PINS[i]})
        return path, response.status_code, response.json()["error"]

    with ThreadPoolExecutor(max_workers=GUESSES) as pool:
        answers = list(pool.map(guess, range(GUESSES)))
    outcomes = Counter((status, error) for _, status, error in answers)
    assert outcomes == {(403, "WrongPin"): 5, (423, "SignerLocked"): GUESSES - 5}, outcomes
    # Both kinds of signing route were refused as locked.
    locked_on = {path.split("/")[3] for path, status, _ in answers if status == 423}
    assert locked_on == {"documents", "batches"}
    assert wrong_pin_entries(people, signer.signer_id) == 5
    # Locked: the right PIN is refused too, on both routes, and nothing was signed.
    right = signer.sign(singles[0])
    assert right.status_code == 423 and right.json()["error"] == "SignerLocked", right.text
    bulk = signer.sign_batch(batch["id"], "pembuat_pernyataan")
    assert bulk.status_code == 423 and bulk.json()["error"] == "SignerLocked", bulk.text
    for document_id in singles + [d["id"] for d in batch["documents"]]:
        document = operator.get(f"/api/v1/documents/{document_id}").json()
        assert document["pending_roles"] == ["pembuat_pernyataan"], document_id
    assert operator.get(f"/api/v1/batches/{batch['id']}").json()["signings"] == []
    assert signer_state(people, signer)["status"] == "aktif"


def test_four_wrong_pins_then_the_right_one_signs_and_starts_the_count_again(
    people: People,
) -> None:
    operator = people.operator.client
    signer = people.signer(NIP_FORGETFUL, name="Nurul Santoso, S.Pd.")
    # Twice: after the right PIN the count starts again, so four more wrong PINs lock nothing.
    for document in (new_pakta(operator, NIP_FORGETFUL)["id"] for _ in range(2)):
        for left in (4, 3, 2, 1):
            wrong = signer.sign(document, pin=WRONG_PINS[left])
            assert wrong.status_code == 403 and wrong.json()["error"] == "WrongPin", wrong.text
            assert f"sisa {left} percobaan" in wrong.json()["detail"]
        signed = signer.sign(document)
        assert signed.status_code == 200, signed.text
        assert signed.json()["status"] == "sah"
