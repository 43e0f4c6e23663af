"""The vendor account one command talks to: where, as whom, trusting what, waiting how long.

    >>> account = Account("https://api.example.com", Credentials("key", "secret"))
    >>> account.url("/voice/sendGroup")
    'https://api.example.com/voice/sendGroup'
    >>> account.kind, account.timeouts.send
    ('vendor', 60.0)
    >>> Account.sandboxed("http://127.0.0.1:8080", Credentials("k", "s")).endpoint
    'sandbox'

Everything that travels together to reach the API is here once, as an httpx client holds its
own configuration: every vendor call (send, upload, records, reconcile, check, test call) is
made from an Account (`batcher.voiceapi.http.connect(account, ...)`), never from loose URL,
credential and CA parameters. The measured clock offset (the vendor's clock minus ours) is the
account's too, and `Account.now` is the one "vendor now" every decision about time reads (the
cooldown, the calling window, settling, redials, record queries, the journal's and the call
history's times): this machine's clock plus the offset, measured before the first decision.

Where a call went is part of what it was, so an account names its endpoint two ways:
`endpoint`, what a campaign records of each request (`sandbox`, or the base URL), and `kind`,
which endpoints stand for one another (`endpoint_kind`):

    sandbox   the embedded simulator of `--sandbox`: a trial, nobody rang
    loopback  a simulator on this machine reached by --base-url http://127.0.0.1:PORT (the
              page's `serve --sandbox`, `batcher sandbox`, the tests' stand-in for the vendor)
    vendor    any other host or prefix: the same people are called through any of them

A call made on one kind never stands for a call on another (batcher.campaign, batcher.history).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from batcher.errors import UsageError
from batcher.settings.defaults import DEFAULT_BASE_URL, DEFAULT_READ_TIMEOUT
from batcher.settings.endpoints import check_base_url, is_loopback_url
from batcher.settings.files import load_credentials
from batcher.settings.values import Credentials

LOOPBACK, VENDOR, SANDBOX = "loopback", "vendor", "sandbox"


def endpoint_kind(endpoint: str) -> str:
    """The kind of an endpoint as a campaign records it (see the module's docstring).

    >>> [endpoint_kind(e) for e in ("sandbox", "http://127.0.0.1:8080", "https://api.x.com")]
    ['sandbox', 'loopback', 'vendor']
    """
    if endpoint == SANDBOX:
        return SANDBOX
    return LOOPBACK if is_loopback_url(endpoint) else VENDOR


@dataclass(frozen=True)
class Timeouts:
    """Seconds to connect, and to wait for one answer of each kind of call.

    `send` is one sendGroup answer (--timeout); `read` a page of records or files; `upload` a
    voice file (up to 27 MB); `probe` the one line `batcher check` reads.
    """

    connect: float = 10.0
    send: float = DEFAULT_READ_TIMEOUT
    read: float = 60.0
    upload: float = 120.0
    probe: float = 30.0

    def __post_init__(self) -> None:
        for name in ("connect", "send", "read", "upload", "probe"):
            if not getattr(self, name) > 0:
                label = "timeout" if name == "send" else f"{name} timeout"
                raise UsageError(f"--{label} must be more than 0 seconds", "e.g. --timeout 60")


@dataclass(frozen=True)
class Account:
    """One vendor account as every client of it needs it (see the module's docstring)."""

    base_url: str = DEFAULT_BASE_URL
    credentials: Credentials | None = field(default=None, repr=False)
    ca_bundle: Path | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    sandbox: bool = False  # the embedded simulator batcher started itself: nobody rings
    clock_offset: float = 0.0  # the vendor's clock minus this machine's, seconds
    clock_measured: bool = False  # clock_offset was read from the vendor's answer

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", check_base_url(self.base_url))

    @classmethod
    def sandboxed(cls, url: str, credentials: Credentials) -> Account:
        """The account of the embedded sandbox served at `url`."""
        return cls(url, credentials, sandbox=True)

    @classmethod
    def from_options(
        cls,
        given: Mapping[str, object],
        config: Mapping[str, object],
        *,
        environ: Mapping[str, str] | None = None,
        credentials: bool = True,
        other_ways: str = "",
    ) -> Account:
        """The account of options (absent: not given) over campaign.toml over the defaults;
        its credentials read unless `credentials` is False (a plan needs none)."""
        url = given.get("base_url") or config.get("base_url") or DEFAULT_BASE_URL
        read = given.get("read_timeout", config.get("read_timeout", DEFAULT_READ_TIMEOUT))
        ca = given.get("ca_bundle")
        return cls(
            base_url=str(url),
            credentials=(
                load_credentials(_path(given.get("credentials")), environ, other_ways=other_ways)
                if credentials
                else None
            ),
            ca_bundle=_path(ca),
            timeouts=Timeouts(send=float(read)),  # type: ignore[arg-type]
            sandbox=bool(given.get("sandbox")),
        )

    @property
    def kind(self) -> str:
        """Which endpoints this one stands for: `sandbox` (the embedded trial), `loopback` (a
        simulator on this machine) or `vendor` (whatever host or prefix serves it)."""
        return endpoint_kind(self.endpoint)

    @property
    def simulated(self) -> bool:
        """Nobody rings: the embedded sandbox, or a simulator on this machine."""
        return self.kind != VENDOR

    @property
    def endpoint(self) -> str:
        """The endpoint as a campaign records it: `sandbox`, or the base URL."""
        return SANDBOX if self.sandbox else self.base_url

    @property
    def latency_key(self) -> str:
        """The endpoint as `batcher check` files its round trip in the call history."""
        return self.base_url if self.kind == VENDOR else LOOPBACK

    @property
    def shown(self) -> str:
        """The endpoint as the operator reads it."""
        return "the embedded sandbox" if self.sandbox else self.base_url

    @property
    def signing(self) -> Credentials:
        """The credentials to sign with; a UsageError when the command was built without."""
        if self.credentials is None:
            raise UsageError(
                "no API credentials for this command",
                "export BATCHER_API_KEY and BATCHER_API_SECRET, or pass --credentials FILE",
            )
        return self.credentials

    def url(self, path: str) -> str:
        """The full address of an API path: account.url("/voice/sendGroup")."""
        return self.base_url + "/" + path.lstrip("/")

    def with_offset(self, offset: float) -> Account:
        """The same account with the clock offset measured from the vendor's answer."""
        return replace(self, clock_offset=offset, clock_measured=True)

    def now(self, local: datetime | None = None) -> datetime:
        """The vendor's time: this machine's clock (`local`, default the wall clock) plus the
        measured offset. The one clock of every decision and every stored time."""
        moment = datetime.now(UTC) if local is None else local
        return moment + timedelta(seconds=self.clock_offset)


def _path(value: object) -> Path | None:
    return Path(str(value)).expanduser() if value else None
