"""``apibricks`` behind a company network: ``--ca-bundle``, ``APIBRICKS_CA_BUNDLE``, ``--proxy``.

Subprocesses against the sandbox behind a TLS front with a test CA (see ``tls_servers``);
mistakes exit 2 with one line before any request.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from tls_servers import TLSFront, TunnelProxy

from apibricks import sandbox

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk_sandbox_cli_tls_5d2e"


async def apibricks(*args: str, **env: str) -> tuple[int, str, str]:
    """``python -m apibricks invoices paid --format json ARGS`` with the key in the variable."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("APIBRICKS_")}
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "apibricks", "invoices", "paid", "--format", "json", *args),
        cwd=ROOT,
        env={**environ, "APIBRICKS_API_KEY": KEY, **env},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_ca_bundle_option_trusts_the_company_ca(front: TLSFront, ca_file: Path) -> None:
    code, out, err = await apibricks("--base-url", front.url, "--ca-bundle", str(ca_file))
    assert code == 0, err
    assert json.loads(out)


async def test_ca_bundle_variable_trusts_the_company_ca(front: TLSFront, ca_file: Path) -> None:
    code, out, err = await apibricks("--base-url", front.url, APIBRICKS_CA_BUNDLE=str(ca_file))
    assert code == 0, err
    assert json.loads(out)


async def test_without_the_ca_the_failure_says_how_to_pass_it(
    front: TLSFront, sandbox_server: sandbox.Sandbox
) -> None:
    code, _, err = await apibricks("--base-url", front.url)
    assert code == 1
    assert "not trusted" in err and "--ca-bundle" in err
    assert KEY not in err
    assert sandbox_server.total_requests == 0


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["--ca-bundle", "/nowhere/ca.pem"], {}, "--ca-bundle"),
        ([], {"APIBRICKS_CA_BUNDLE": "/nowhere/ca.pem"}, "APIBRICKS_CA_BUNDLE"),
        ([], {"SSL_CERT_FILE": "/nowhere/ca.pem"}, "SSL_CERT_FILE"),
        (["--ca-bundle", __file__], {}, "--ca-bundle"),  # not PEM
        (["--proxy", "socks5://proxy.example:1080"], {}, "--proxy"),
        (["--proxy", "http://squid:s3cret@proxy.example:3128"], {}, "HTTPS_PROXY"),
        ([], {"HTTPS_PROXY": "socks5://proxy.example:1080"}, "HTTPS_PROXY"),
        ([], {"ALL_PROXY": "http://"}, "ALL_PROXY"),
    ],
)
async def test_bad_trust_or_proxy_exits_2_before_any_request(
    front: TLSFront,
    sandbox_server: sandbox.Sandbox,
    args: list[str],
    env: dict[str, str],
    named: str,
) -> None:
    # Not loopback, which never takes the environment's proxy (and so never reads it).
    base_url = f"https://api.apibricks.test:{front.port}"
    code, out, err = await apibricks("--base-url", base_url, *args, **env)
    assert code == 2, err
    assert err.startswith("apibricks: error: ") and err.count("\n") == 1
    assert named in err and "s3cret" not in err
    assert out == ""
    assert sandbox_server.total_requests == 0


async def test_proxy_option_tunnels_and_never_shows_the_key(front: TLSFront, ca_file: Path) -> None:
    tunnel = TunnelProxy()
    await tunnel.start()
    try:
        base_url = f"https://api.apibricks.test:{front.port}"  # reachable only by the proxy
        code, out, err = await apibricks(
            "--base-url", base_url, "--ca-bundle", str(ca_file), "--proxy", tunnel.url
        )
        assert code == 0, err
        assert json.loads(out)
        (head,) = tunnel.heads
        assert head.startswith(f"CONNECT api.apibricks.test:{front.port} ")
        assert KEY.encode() not in tunnel.carried and KEY not in head
    finally:
        await tunnel.stop()
