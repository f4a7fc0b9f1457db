"""The root URL: a person who opens the server's address lands on the API's documentation."""

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

router = APIRouter()


@router.get("/", include_in_schema=False)
async def home() -> RedirectResponse:
    """Send a visitor of `/` to the interactive documentation."""
    return RedirectResponse("/docs")
