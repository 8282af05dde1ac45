"""Signers: a person's identity entered by an operator or admin, in effect once an admin
approves it, and activated by the signer through a one-time link, where they choose the PIN
their key is sealed under. Re-enrolling (a new jabatan, a forgotten PIN) revokes the old
certificate once the new one is made; revoking a signer lists their certificate in the CRL."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from docgen.errors import Conflict, DataInvalid, FieldProblem, Forbidden, NotFound
from docgen.people import repository as people
from docgen.people.policies import Caller
from docgen.people.security import pin_problem
from docgen.people.service import Accounts
from docgen.registry import audit
from docgen.registry.db import Database
from docgen.registry.models import SignatureSlot, Signer, Unit, User, utcnow
from docgen.registry.statuses import Role, SignerStatus
from docgen.signers import repository
from docgen.signers.keys import IssuedKey, SignerKeys
from docgen.signers.revocation import Crl, RevocationList
from docgen.signers.schemas import ReenrolIn, SignerIn

__all__ = ["Signers", "revocation_time"]


def revocation_time() -> datetime:
    """Now, rounded up to a whole second: CRLs carry whole seconds, so a signature
    time-stamped a moment before the revocation is not listed as made after it."""
    now = utcnow()
    return now.replace(microsecond=0) + timedelta(seconds=1 if now.microsecond else 0)


def _revoke(signer: Signer, reason: str) -> None:
    signer.status = SignerStatus.DICABUT
    signer.revoked_at = revocation_time()
    signer.revoke_reason = reason


def _entry(caller: Caller, unit: Unit, **identity: Any) -> Signer:
    """A new enrolment entered by ``caller``: in effect at once if an admin entered it."""
    approved = caller.is_admin
    return Signer(
        id=uuid.uuid4().hex,
        unit=unit.name,
        unit_id=unit.id,
        status=SignerStatus.MENUNGGU_AKTIVASI if approved else SignerStatus.MENUNGGU_PERSETUJUAN,
        entered_by=caller.id,
        approved_by=caller.id if approved else None,
        failed_pins=0,
        **identity,
    )


class Signers:
    def __init__(
        self,
        db: Database,
        keys: SignerKeys,
        revocations: RevocationList,
        accounts: Accounts,
    ) -> None:
        self.db = db
        self.keys = keys
        self.revocations = revocations
        self.accounts = accounts

    # Reading --------------------------------------------------------------------------------

    @staticmethod
    def may_see(caller: Caller, signer: Signer) -> bool:
        """Admins see every signer; operators and auditors their units'; a signer themselves."""
        if caller.role == Role.SIGNER:
            user = caller.user
            return user is not None and signer.id == user.signer_id
        return caller.in_unit(signer.unit_id)

    async def get(self, caller: Caller, signer_id: str) -> Signer:
        """Raises NotFound (also for a signer the caller may not see)."""
        async with self.db.session() as session:
            signer = await repository.get(session, signer_id)
        if not self.may_see(caller, signer):
            raise NotFound("Penanda tangan tidak ditemukan")
        return signer

    async def visible(self, caller: Caller) -> list[Signer]:
        query = select(Signer).order_by(Signer.name)
        if caller.role == Role.SIGNER:
            query = query.where(Signer.id == (caller.user.signer_id if caller.user else None))
        elif not caller.is_admin:
            query = query.where(Signer.unit_id.in_(caller.unit_ids))
        async with self.db.session() as session:
            return list(await session.scalars(query))

    # Enrolling ------------------------------------------------------------------------------

    async def enrol(self, caller: Caller, data: SignerIn) -> tuple[Signer, str | None]:
        """Enter a signer. An admin's entry is in effect at once (with an activation link);
        an operator's waits for an admin's approval.

        Raises Forbidden (another unit), DataInvalid (an unknown unit), Conflict (409: the
        number already has a signer in effect, or the username is taken).
        """
        if not caller.in_unit(data.unit_id):
            raise Forbidden("Anda hanya dapat mendaftarkan penanda tangan unit Anda")
        nip = data.nip or data.ni_pppk
        approved = caller.is_admin
        try:
            async with self.db.writing() as session:
                if await repository.in_effect(session, nip=nip, nik=data.nik) is not None:
                    raise Conflict(
                        "Nomor induk ini sudah terdaftar pada penanda tangan yang berlaku"
                    )
                (unit,) = await people.units(session, [data.unit_id], "unit_id")
                signer = _entry(
                    caller,
                    unit,
                    name=data.name,
                    nip=nip,
                    nik=data.nik,
                    nomor_kind=data.nomor_kind,
                    jabatan=data.jabatan,
                    pangkat=data.pangkat,
                )
                session.add(signer)
                await session.flush()
                # A person enrolled again after a revocation keeps their account; its password,
                # sessions and tokens are replaced when they activate the new enrolment.
                user = await repository.former_account(session, nip=nip, nik=data.nik)
                if user is not None and data.username in (None, user.username):
                    user.signer_id = signer.id
                    user.units = [unit]
                    user.email = data.email or user.email
                else:
                    user = await self.accounts.add_user(
                        session,
                        data.username or nip or data.nik or signer.id,
                        Role.SIGNER,
                        [unit.id],
                        signer_id=signer.id,
                        email=data.email,
                    )
                await audit.record(
                    session, "signer.enrolled", "signer", signer.id, unit=unit.id, approved=approved
                )
                url = await self.accounts.new_activation(session, user) if approved else None
                await session.commit()
        except IntegrityError:
            raise Conflict(
                "Nomor induk ini sudah terdaftar pada penanda tangan yang berlaku"
            ) from None
        return signer, url

    async def reenrol(
        self, caller: Caller, signer_id: str, data: ReenrolIn
    ) -> tuple[Signer, str | None]:
        """A new enrolment of the same person that takes over when activated (the old
        certificate is then revoked). Raises NotFound, Forbidden, DataInvalid, Conflict."""
        async with self.db.writing() as session:
            old = await repository.get(session, signer_id)
            if not caller.in_unit(old.unit_id) or not self.may_see(caller, old):
                raise NotFound("Penanda tangan tidak ditemukan")
            if old.status == SignerStatus.DICABUT or old.replaces_id is not None:
                raise Conflict("Hanya penanda tangan yang berlaku yang dapat didaftarkan ulang")
            if await repository.replacement_of(session, old.id) is not None:
                raise Conflict("Pendaftaran ulang penanda tangan ini sudah menunggu")
            unit_id = data.unit_id or old.unit_id
            if unit_id is None or not caller.in_unit(unit_id):
                raise Forbidden("Anda hanya dapat mendaftarkan penanda tangan unit Anda")
            (unit,) = await people.units(session, [unit_id], "unit_id")
            approved = caller.is_admin
            new = _entry(
                caller,
                unit,
                name=data.name or old.name,
                nip=old.nip,
                nik=old.nik,
                nomor_kind=old.nomor_kind,
                jabatan=data.jabatan or old.jabatan,
                pangkat=data.pangkat if data.pangkat is not None else old.pangkat,
                replaces_id=old.id,
            )
            session.add(new)
            await session.flush()
            await audit.record(session, "signer.reenrolled", "signer", new.id, replaces=old.id)
            url = await self._activation_for(session, new) if approved else None
            await session.commit()
        return new, url

    async def approve(self, caller: Caller, signer_id: str) -> tuple[Signer, str]:
        """An admin puts an operator's entry in effect; returns the activation link.

        Raises NotFound, Conflict (409: not waiting for approval, or the number has a signer in
        effect meanwhile)."""
        async with self.db.writing() as session:
            signer = await repository.get(session, signer_id)
            if signer.status != SignerStatus.MENUNGGU_PERSETUJUAN:
                raise Conflict("Penanda tangan ini tidak menunggu persetujuan")
            signer.status = SignerStatus.MENUNGGU_AKTIVASI
            signer.approved_by = caller.id
            await audit.record(session, "signer.approved", "signer", signer.id)
            url = await self._activation_for(session, signer)
            await session.commit()
        return signer, url

    async def new_activation(self, signer_id: str) -> tuple[Signer, str]:
        """A new link for a signer who has not activated yet (the old one expired or got lost).
        Raises NotFound, Conflict."""
        async with self.db.writing() as session:
            signer = await repository.get(session, signer_id)
            if signer.status != SignerStatus.MENUNGGU_AKTIVASI:
                raise Conflict(
                    "Hanya penanda tangan yang menunggu aktivasi yang dapat diberi tautan baru; "
                    "PIN yang terlupa memerlukan pendaftaran ulang"
                )
            url = await self._activation_for(session, signer)
            await session.commit()
        return signer, url

    async def _activation_for(self, session: AsyncSession, signer: Signer) -> str:
        user = await repository.account_of(session, signer.replaces_id or signer.id)
        if user is None:
            raise NotFound("Akun penanda tangan tidak ditemukan")
        return await self.accounts.new_activation(session, user)

    # Activating -----------------------------------------------------------------------------

    async def activate(self, token: str, password: str, pin: str | None, otp: str | None) -> User:
        """The signer sets a password and the PIN; only now the key pair and certificate are
        made. A re-enrolment revokes the enrolment it replaces and takes over its unsigned
        roles.

        Raises NotFound (the link), DataInvalid (password, PIN, code), Conflict.
        """
        view = await self.accounts.activation(token)
        async with self.db.session() as session:
            target = await self._to_activate(session, view.user)
        issued: IssuedKey | None = None
        if target is not None:
            problem = pin_problem(pin or "", target.nomor)
            if problem:
                raise DataInvalid([FieldProblem("pin", problem)])
            issued = await self.keys.issue(
                name=target.name,
                nip=target.nip,
                jabatan=target.jabatan,
                unit=target.unit,
                pin=pin or "",
            )
        replaced: list[Crl] = []  # the CRL that lists the enrolment replaced, if one was

        async def register(session: AsyncSession, user: User) -> None:
            if target is None or issued is None:
                return
            signer = await repository.get(session, target.id)
            if signer.status != SignerStatus.MENUNGGU_AKTIVASI:
                raise Conflict("Pendaftaran penanda tangan ini tidak lagi menunggu aktivasi")
            if signer.replaces_id is not None:
                old = await repository.get(session, signer.replaces_id)
                if old.status != SignerStatus.DICABUT:
                    _revoke(old, "Digantikan oleh pendaftaran baru")
                    # Listed in the same transaction, as in revoke().
                    replaced.append(await self.revocations.issue(session))
                await session.flush()
                signer.replaces_id = None
                # The roles still waiting for the old enrolment wait for the new one.
                await session.execute(
                    update(SignatureSlot)
                    .where(SignatureSlot.assigned_signer_id == old.id)
                    .where(SignatureSlot.signed_at.is_(None))
                    .values(assigned_signer_id=signer.id)
                )
                await audit.record(
                    session, "signer.revoked", "signer", old.id, replaced_by=signer.id
                )
            signer.certificate_pem = issued.certificate_pem
            signer.sealed_key = issued.sealed
            signer.status = SignerStatus.AKTIF
            signer.failed_pins = 0
            signer.locked_until = None
            user.signer_id = signer.id
            await audit.record(session, "signer.activated", "signer", signer.id)

        user = await self.accounts.activate(token, password, otp, within=register)
        for crl in replaced:
            await self.revocations.adopt(crl)
        return user

    @staticmethod
    async def _to_activate(session: AsyncSession, user: User) -> Signer | None:
        """The enrolment a signer's activation link makes a key for: a re-enrolment waiting
        for it, else their own if not yet activated; None for a password reset only."""
        if user.role != Role.SIGNER or user.signer_id is None:
            return None
        return await session.scalar(
            select(Signer).where(
                or_(Signer.id == user.signer_id, Signer.replaces_id == user.signer_id),
                Signer.status == SignerStatus.MENUNGGU_AKTIVASI,
            )
        )

    async def needs_pin(self, user: User) -> bool:
        async with self.db.session() as session:
            return await self._to_activate(session, user) is not None

    # The signer's own -----------------------------------------------------------------------

    async def change_pin(self, caller: Caller, pin: str, new_pin: str) -> None:
        """Seal the same key under a new PIN. Raises NotFound, DataInvalid, WrongPin,
        SignerLocked."""
        signer = await self.own(caller)
        problem = pin_problem(new_pin, signer.nomor)
        if problem:
            raise DataInvalid([FieldProblem("new_pin", problem)])
        _, identity = await self.keys.unlock(signer.id, pin)
        sealed = await self.keys.reseal(identity.private_key, new_pin)
        async with self.db.writing() as session:
            current = await repository.get(session, signer.id)
            current.sealed_key = sealed
            await audit.record(session, "signer.pin_changed", "signer", signer.id)
            await session.commit()

    async def own(self, caller: Caller) -> Signer:
        """The caller's enrolment in effect. Raises NotFound."""
        signer_id = caller.user.signer_id if caller.user else None
        if caller.role != Role.SIGNER or signer_id is None:
            raise NotFound("Akun ini bukan akun penanda tangan")
        async with self.db.session() as session:
            return await repository.get(session, signer_id)

    # Revoking -------------------------------------------------------------------------------

    async def revoke(self, signer_id: str, reason: str) -> Signer:
        """Revoke the signer's certificate: it is listed in the CRL at once and cannot sign
        again; a bulk signing of theirs stops before its next document. A pending entry is
        refused the same way.

        Raises NotFound, Conflict (409: already revoked).
        """
        async with self.db.writing() as session:
            signer = await repository.get(session, signer_id)
            if signer.status == SignerStatus.DICABUT:
                raise Conflict("Sertifikat penanda tangan sudah dicabut")
            _revoke(signer, reason)
            await audit.record(session, "signer.revoked", "signer", signer_id, reason=reason)
            # Listed in the same transaction: never revoked without a CRL that says so, and
            # every instance loads that CRL once it commits.
            crl = await self.revocations.issue(session)
            await session.commit()
        await self.revocations.adopt(crl)
        return signer
