"""What a route takes from the app: the runtime built at the process edge, and the link
signer made from its settings (see `api.app.create_app`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.links import LinkSigner
from worker.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_signer(request: Request) -> LinkSigner:
    signer: LinkSigner = request.app.state.signer
    return signer


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SignerDep = Annotated[LinkSigner, Depends(get_signer)]
