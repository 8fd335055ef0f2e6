"""The transparency log, for anyone (no sign-in): its public key, signed heads (C2SP checkpoints),
consistency and inclusion proofs (RFC 9162 §2.1), what each leaf covers, and a check of a kept
checkpoint against today's log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from services.api.deps import DbDep
from services.api.responses import errors
from services.queries import transparency
from services.queries.transparency import (
    CheckpointCheck,
    ConsistencyProof,
    HeadList,
    InclusionProof,
    LeafPublic,
    LogKey,
)
from services.transparency import keys

router = APIRouter(prefix="/api/v1/public/log", tags=["transparency"])

Size = Annotated[int, Query(ge=0, le=2**62)]


@router.get("/key", summary="The log's public key (PEM, and the signed-note verifier key) and earlier keys",
            responses=errors(404))
def public_key() -> LogKey:
    return transparency.key_view(keys.keyring())


@router.get("/checkpoint", response_class=PlainTextResponse,
            summary="The newest signed head, as a C2SP checkpoint (text/plain): keep it, check later",
            responses={200: {"description": "The checkpoint (a C2SP signed note)"}, **errors(404, text=True)})
def latest_checkpoint(db: DbDep) -> PlainTextResponse:
    with db.read() as session:
        return PlainTextResponse(transparency.newest(session).signature)


@router.get("/heads", summary="Recent signed heads, newest first", responses=errors(422))
def recent_heads(db: DbDep, limit: Annotated[int, Query(ge=1, le=500)] = 20) -> HeadList:
    with db.read() as session:
        return transparency.heads(session, limit)


@router.get("/consistency", summary="RFC 9162 consistency proof that the tree of `first` leaves is a prefix of "
                                    "the tree of `second` (default: the newest head)", responses=errors(404, 422))
def consistency(db: DbDep, first: Size, second: Annotated[int | None, Query(ge=0, le=2**62)] = None
                ) -> ConsistencyProof:
    with db.read() as session:
        return transparency.consistency(session, first, second)


@router.get("/inclusion", summary="RFC 9162 inclusion proof of a leaf (by index `seq`, or by `leaf_hash`) in the "
                                  "tree of `size` leaves (default: the newest head)", responses=errors(404, 422))
def inclusion(db: DbDep, seq: Annotated[int | None, Query(ge=0, le=2**62)] = None,
              leaf_hash: Annotated[str | None, Query(max_length=64)] = None,
              size: Annotated[int | None, Query(ge=1, le=2**62)] = None) -> InclusionProof:
    with db.read() as session:
        return transparency.inclusion(session, seq, leaf_hash, size)


@router.get("/leaves/{seq}", summary="What a leaf covers: a ledger entry's fields, or an audit event's stream, "
                                     "sequence number and chain hash (never its payload)", responses=errors(404, 422))
def leaf(seq: int, db: DbDep) -> LeafPublic:
    with db.read() as session:
        return transparency.leaf(session, seq)


class KeptCheckpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")
    checkpoint: str = Field(min_length=1, max_length=4000, description="a checkpoint this log signed earlier")


@router.post("/check", summary="Check a kept checkpoint: signed by this log, and today's log extends it "
                               "(with the consistency proof)", responses=errors(413, 422))
def check(body: KeptCheckpoint, db: DbDep) -> CheckpointCheck:
    with db.read() as session:
        return transparency.check(session, body.checkpoint)
