"""Registration, sign-in and the caller's identity."""

from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from pymongo.errors import DuplicateKeyError

from app import throttle
from app.deps import CallerDep, DatabaseDep, SettingsDep
from app.errors import Unauthorized
from app.openapi import error_responses
from app.schemas import LoginIn, MembershipOut, MeOut, RegisterIn, TokenForm, TokenOut, UserOut
from app.security import create_access_token, hash_password_async, verify_password_async
from app.services.lookups import live_companies
from authz.errors import Conflict
from models import User, touched

router = APIRouter(prefix="/auth", tags=["auth"])

BAD_CREDENTIALS = "incorrect email or password"


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    summary="Create an account",
    responses=error_responses(409, 422, 429),
)
async def register(
    body: RegisterIn, request: Request, settings: SettingsDep, _: DatabaseDep
) -> UserOut:
    """Create an account; the email is stored lower-cased. 409 if username or email exist.

    A 409 tells that an account exists, so these answers are throttled per client address
    (429 once `ACCOUNT_LOOKUPS_PER_IP` are used), like failed sign-ins.
    """
    client = request.client.host if request.client else None
    lookup = await throttle.account_lookup(client, None, settings)
    password_hash = await hash_password_async(body.password)
    user = User(username=body.username, email=body.email, password_hash=password_hash)
    try:
        await user.insert()
    except DuplicateKeyError as exc:
        await lookup.reveal()
        # Servers word duplicate-key errors differently; ask which value is taken.
        taken = await User.find_one(User.email == body.email)
        field = "email" if taken is not None else "username"
        raise Conflict(
            f"an account with this {field} already exists"
            + ("; sign in instead" if field == "email" else ""),
            field=field,
        ) from exc
    return UserOut(id=str(user.id), username=user.username, email=user.email)


async def _sign_in(email: str, password: str, request: Request, settings: SettingsDep) -> TokenOut:
    client = request.client.host if request.client else None
    await throttle.ensure_not_locked(email, client, settings)
    attempt = await throttle.begin_attempt(email, client, settings)
    user = await User.find_one(User.email == email)
    valid, new_hash = await verify_password_async(password, user.password_hash if user else None)
    if user is None or not valid:
        await throttle.record_failure(attempt, settings)
        raise Unauthorized(BAD_CREDENTIALS)
    if new_hash:
        await User.find_one(User.id == user.id).update(
            touched({"$set": {"password_hash": new_hash}})
        )
    await throttle.record_success(attempt)
    issued = create_access_token(str(user.id), settings)
    return TokenOut(access_token=issued.access_token, expires_in=issued.expires_in)


@router.post(
    "/login",
    response_model=TokenOut,
    summary="Sign in (JSON)",
    responses=error_responses(401, 422, 429),
)
async def login(body: LoginIn, request: Request, settings: SettingsDep, _: DatabaseDep) -> TokenOut:
    """Exchange email and password for a bearer token."""
    return await _sign_in(body.email, body.password, request, settings)


@router.post(
    "/token",
    response_model=TokenOut,
    summary="Sign in (OAuth2 form, for /docs)",
    responses=error_responses(401, 422, 429),
)
async def token(
    form: Annotated[TokenForm, Form()],
    request: Request,
    settings: SettingsDep,
    _: DatabaseDep,
) -> TokenOut:
    """The OAuth2 password flow behind /docs' "Authorize": `username` is the email."""
    return await _sign_in(form.username, form.password, request, settings)


@router.get("/me", response_model=MeOut, summary="Who am I", responses=error_responses(401))
async def me(caller: CallerDep) -> MeOut:
    """The caller and their memberships, read fresh from the database on every request."""
    user, roles = caller.user, caller.principal.roles
    names = await live_companies(list(roles))
    return MeOut(
        id=str(user.id),
        username=user.username,
        email=user.email,
        memberships=[
            MembershipOut(
                company_id=c,
                company_name=names[c],
                role=roles[c],
                ticket_access=caller.scope.engine.level(caller.principal, c),
            )
            for c in sorted(names, key=lambda c: (names[c].lower(), str(c)))
        ],
    )
