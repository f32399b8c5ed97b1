"""The Ray runner on a `ray://` address: a head node started here on loopback, reached through Ray Client."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelyard.client import Client
from modelyard.errors import ConfigError
from tests.pipelines import flows

pytestmark = pytest.mark.ray
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def head_node() -> Iterator[str]:
    """`ray start --head --block` in its own process group; the address of its Ray Client server."""
    ray_cli = Path(sys.executable).with_name("ray")
    client_port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_AUTH_MODE": "disabled"}
    process = subprocess.Popen(
        [
            str(ray_cli), "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={_free_port()}",
            f"--ray-client-server-port={client_port}", "--num-cpus=2", "--include-dashboard=false",
            "--disable-usage-stats",  # its files go to /tmp/ray/session_*: socket paths must stay short
        ],
        env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, "ray start --head exited"
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", client_port)) == 0:
                    break
            assert time.monotonic() < deadline, "the Ray head node did not open its client port"
            time.sleep(0.5)
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        yield f"ray://127.0.0.1:{client_port}"
    finally:
        import ray

        ray.shutdown()
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)


def test_a_ray_address_runs_the_steps_on_that_cluster(head_node: str, local_yard: Client, tmp_path: Path) -> None:
    on_cluster = flows.training.run(runner=head_node, client=local_yard, cache=False)
    inline = flows.training.run(runner="inline", client=local_yard, cache=False)
    assert on_cluster.succeeded
    assert {s.name: [o.digest for o in s.outputs] for s in on_cluster.steps} == {
        s.name: [o.digest for o in s.outputs] for s in inline.steps
    }
    flows.training.run(runner=head_node, client=local_yard)
    again = flows.training.run(runner=head_node, client=local_yard)
    assert [s.cache_hit for s in again.steps] == [True, True, True]
    with pytest.raises(ConfigError, match="already connected to Ray"):
        flows.training.run(runner="ray", client=local_yard, cache=False)
