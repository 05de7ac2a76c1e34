"""``segshift batch`` on a real Dask cluster: a ``distributed.LocalCluster``
with two worker *processes* (one thread each) on loopback, shared by the
tests of this module.

The workers run in a working directory of their own, not the tests' (as
workers started elsewhere do), so that a relative path that reached a
worker would name another file there.

The scheduler gives up on a task after one worker death beyond the first
(``allowed-failures: 1``, so that a file that kills every worker costs two
worker restarts, not four), and sends each worker one task at a time
(``worker-saturation: 1.0``), so that only the file a worker was running is
suspected when it dies.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import Future, wait
from pathlib import Path

import numpy as np
import pytest
from conftest import cli_taking_ctrl_c, make_photos
from PIL import Image

distributed = pytest.importorskip("distributed", reason="the cluster tests need dask.distributed (segshift[dask])")

from segshift import _dask_cluster as cluster  # noqa: E402
from segshift.batch import BatchEvent, run_batch  # noqa: E402
from segshift.cli import main  # noqa: E402
from segshift.writers import read_manifest  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
N_PHOTOS = 8


def labels_of(rel: str) -> str:
    return rel.rsplit(".", 1)[0] + ".labels.png"


def temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


@pytest.fixture(scope="module")
def workers_cwd(tmp_path_factory) -> Path:
    """The working directory of the cluster's workers (never the tests')."""
    return tmp_path_factory.mktemp("workers-cwd")


@pytest.fixture(scope="module")
def client(workers_cwd):
    import dask

    here = os.getcwd()
    os.chdir(workers_cwd)  # the worker processes spawned now start there
    try:
        with dask.config.set({"distributed.scheduler.allowed-failures": 1,
                              "distributed.scheduler.worker-saturation": 1.0}):
            with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                          dashboard_address=None, silence_logs=50) as local:
                os.chdir(here)
                with distributed.Client(local, set_as_default=False) as client:
                    yield client
    finally:
        os.chdir(here)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Eight photos, a broken one, and the local serial run's outputs to compare with."""
    root = tmp_path_factory.mktemp("photos")
    folder = root / "in"
    folder.mkdir()
    names = make_photos(folder, N_PHOTOS, np.random.default_rng(3), size=(120, 90))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    reference = run_batch(folder, root / "local", recursive=True, jobs=1, outputs=("modes", "labels"))
    assert reference.counts["ok"] == N_PHOTOS
    return folder, names, root / "local"


def run_on(client, folder: Path, out: Path, **kwargs):
    return run_batch(folder, out, recursive=True, outputs=("modes", "labels"), numba_threads=1,
                     executor=cluster.executor(client), **kwargs)


def assert_same_outputs(out: Path, reference: Path, names: list[str]) -> None:
    for rel in names:
        for name in (labels_of(rel), rel.rsplit(".", 1)[0] + ".png"):
            assert (out / name).read_bytes() == (reference / name).read_bytes(), name
    assert temp_files(out) == []


# --------------------------------------------------------------------------- #


def test_workers_load_the_kernels_from_the_cache(client):
    """Fresh worker processes load the compiled kernels from numba's disk cache: none compiles."""
    from segshift._compile import warm_up

    warm_up([{}])  # this process fills the cache (or finds it full)
    if any(client.run(lambda: "segshift._segment" in sys.modules).values()):
        client.restart()  # not fresh (this test ran after others)
    answers = cluster.warm_workers(client, [{}])
    assert sorted(answers) == sorted(client.nthreads()) and len(answers) == 2
    assert answers == dict.fromkeys(answers, False)


def test_the_cluster_writes_the_local_runs_bytes(client, photos, tmp_path):
    folder, names, reference = photos
    events: list[BatchEvent] = []
    report = run_on(client, folder, tmp_path / "out", progress=events.append)
    assert report.counts == {"ok": N_PHOTOS, "skipped": 0, "failed": 1, "interrupted": 0}
    assert report.jobs == 2  # as many files in flight as the cluster has threads
    assert_same_outputs(tmp_path / "out", reference, names)
    # The progress follows the tasks as they finish: one event per file, then the manifest.
    assert events[0].kind == "start" and events[0].total == N_PHOTOS + 1
    assert [e.done for e in events if e.kind == "file"] == list(range(1, N_PHOTOS + 2))
    rows = {r["input"]: r for r in read_manifest(tmp_path / "out" / "manifest.json")}
    assert rows["broken.jpg"]["status"] == "failed" and rows["broken.jpg"]["error"].startswith(
        str(folder / "broken.jpg") + ": ")
    assert all(rows[rel]["status"] == "ok" and rows[rel]["regions"] > 0 for rel in names)
    assert set(rows["img01.jpg"]) == {"input", "outputs", "regions", "seconds", "status", "error"}


def test_a_worker_killed_mid_file_costs_a_retry_on_another(client, photos, tmp_path):
    folder, names, reference = photos
    before = client.run(os.getpid)
    killed: list[int] = []

    def progress(event: BatchEvent) -> None:
        # After the first file, SIGKILL a worker that is running one.
        if event.kind == "file" and not killed:
            busy = [addr for addr, keys in client.processing().items() if keys and addr in before]
            if busy:
                killed.append(before[busy[0]])
                os.kill(killed[0], signal.SIGKILL)

    report = run_on(client, folder, tmp_path / "out", progress=progress)
    assert killed, "no worker was busy to kill"
    assert report.counts == {"ok": N_PHOTOS, "skipped": 0, "failed": 1, "interrupted": 0}
    assert_same_outputs(tmp_path / "out", reference, names)
    deadline = time.monotonic() + 60
    while len(client.nthreads()) < 2 and time.monotonic() < deadline:  # the nanny restarts it
        time.sleep(0.1)
    assert killed[0] not in client.run(os.getpid).values()


def test_a_file_that_kills_every_worker_fails_and_the_others_finish(client, photos, tmp_path, monkeypatch):
    folder, names, reference = photos
    # Workers started from now on (restarted ones) inherit it; the two running get it set.
    monkeypatch.setenv("SEGSHIFT_TEST_CRASH_ON", "img02.jpg")
    client.run(lambda: os.environ.update(SEGSHIFT_TEST_CRASH_ON="img02.jpg"))
    try:
        start = time.monotonic()
        report = run_on(client, folder, tmp_path / "out")
        elapsed = time.monotonic() - start
    finally:
        client.run(lambda: os.environ.pop("SEGSHIFT_TEST_CRASH_ON", None))
    assert report.counts == {"ok": N_PHOTOS - 1, "skipped": 0, "failed": 2, "interrupted": 0}, elapsed
    row = {r.input: r for r in report.records}["img02.jpg"]
    assert row.status == "failed" and row.outputs == ()
    assert row.error == (f"{folder / 'img02.jpg'}: the worker process died each of the 2 times it was "
                         "segmenting it (crashed, killed, or out of memory?)")
    assert_same_outputs(tmp_path / "out", reference, [n for n in names if n != "img02.jpg"])
    assert not (tmp_path / "out" / labels_of("img02.jpg")).exists()


def test_relative_paths_reach_workers_in_another_working_directory(client, photos, workers_cwd, tmp_path,
                                                                   monkeypatch, capsys):
    """``segshift batch photos out --scheduler ...`` from the tests' working directory, the workers in
    theirs: the outputs land in ./out, the manifest says so, and a rerun skips every file."""
    folder, names, reference = photos
    client.run(os.chdir, str(workers_cwd))  # also workers a previous test had restarted
    assert set(client.run(os.getcwd).values()) == {str(workers_cwd)}
    monkeypatch.chdir(tmp_path)
    Path("photos").mkdir()
    for rel in names:
        Path("photos", rel).parent.mkdir(parents=True, exist_ok=True)
        Path("photos", rel).write_bytes((folder / rel).read_bytes())
    command = ["batch", "photos", "out", "-R", "--labels", "--threads", "1", "--scheduler", client.scheduler.address]

    assert main(command) == 0, capsys.readouterr().err
    assert f"{N_PHOTOS} segmented, 0 skipped (done before), 0 failed" in capsys.readouterr().err
    assert_same_outputs(tmp_path / "out", reference, names)
    rows = {r["input"]: r for r in read_manifest(tmp_path / "out" / "manifest.json")}
    assert sorted(rows) == sorted(names)
    for rel, row in rows.items():
        assert row["status"] == "ok" and row["outputs"] == [rel.rsplit(".", 1)[0] + ".png", labels_of(rel)]
        assert all((tmp_path / "out" / o).is_file() for o in row["outputs"])
    assert list(workers_cwd.iterdir()) == []  # nothing written where the workers run

    assert main(command) == 0
    assert f"0 segmented, {N_PHOTOS} skipped (done before), 0 failed" in capsys.readouterr().err

    # An absolute input folder and a relative output folder: the same.
    absolute = ["batch", str(tmp_path / "photos"), "out2", "-R", "--labels", "--threads", "1",
                "--scheduler", client.scheduler.address]
    assert main(absolute) == 0
    assert_same_outputs(tmp_path / "out2", reference, names)
    assert list(workers_cwd.iterdir()) == []
    assert main(absolute) == 0
    assert f"0 segmented, {N_PHOTOS} skipped (done before), 0 failed" in capsys.readouterr().err


def test_an_input_the_workers_cannot_see_fails_alone_and_names_the_path(client, photos, tmp_path):
    """An input that no longer exists where the task runs (renamed after the batch planned its tasks,
    before they left): that file fails with a line naming it; the others are segmented."""
    folder, names, reference = photos
    copy = tmp_path / "in"
    for rel in names:
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        (copy / rel).write_bytes((folder / rel).read_bytes())
    hidden = copy / "img05.jpg"

    def progress(event: BatchEvent) -> None:
        if event.kind == "start":  # planned, nothing submitted yet
            hidden.rename(copy / "elsewhere.bin")

    report = run_on(client, copy, tmp_path / "out", progress=progress)
    assert report.counts == {"ok": N_PHOTOS - 1, "skipped": 0, "failed": 1, "interrupted": 0}
    row = {r.input: r for r in report.records}["img05.jpg"]
    assert row.status == "failed" and row.outputs == ()
    assert re.fullmatch(
        re.escape(f"{hidden}: the worker (Dask worker ") + r"tcp://127\.0\.0\.1:\d+ on .+"
        + re.escape(") cannot see this file (no such file there: removed or renamed since the batch started, "
                    "or, with workers on other machines, IN_DIR is not on a file system they share under "
                    "the same path)"),
        row.error,
    ), row.error
    assert_same_outputs(tmp_path / "out", reference, [n for n in names if n != "img05.jpg"])


def test_an_output_folder_the_workers_cannot_see_writes_nothing_there(client, photos, tmp_path):
    """A task whose output folder is not there for the worker (here: removed after it was sent) fails,
    naming the folder, rather than creating it, or its outputs, where the worker runs."""
    from segshift.batch import FileTask, segment_file

    folder, names, _ = photos
    gone = tmp_path / "gone"
    task = FileTask(0, str(folder / names[0]), (("modes", str(gone / "a.png")),), {}, None, 1, str(gone))
    result = client.submit(segment_file, task, pure=False).result()
    assert result["status"] == "failed" and not gone.exists()
    assert result["error"].startswith(f"{gone}: the worker (Dask worker tcp://127.0.0.1:")
    assert result["error"].endswith(") cannot see the output folder (no such folder there; the workers must "
                                    "share its file system, under the same path)")


def test_ctrl_c_cancels_the_tasks_and_the_next_run_resumes(client, photos, tmp_path, capsys):
    """A real ``segshift batch --scheduler`` process gets SIGINT after its first file; the same
    command with ``--scheduler-file`` resumes."""
    n = 16
    folder = tmp_path / "in"
    names = make_photos(folder, n, np.random.default_rng(5), size=(160, 120))
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    address = client.scheduler.address
    proc = subprocess.Popen(
        cli_taking_ctrl_c("batch", str(folder), str(out), "-R", "-v", "--labels", "--threads", "1",
                          "--scheduler", address),
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        lines = []
        for line in proc.stderr:  # the per-file line: this process has the first result
            lines.append(line)
            if " -> " in line:
                break
        proc.send_signal(signal.SIGINT)
        stderr = "".join(lines) + proc.communicate(timeout=60)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted: the files not finished are cancelled" in stderr, stderr
    rows = {r["input"]: r for r in read_manifest(out / "manifest.json")}
    statuses = [r["status"] for r in rows.values()]
    assert len(rows) == n and statuses.count("ok") >= 1 and statuses.count("interrupted") >= 1, statuses
    assert statuses.count("ok") + statuses.count("interrupted") == n
    # The submitted tasks were cancelled: the cluster becomes idle at once
    # (a file already running may still finish its atomic writes).
    deadline = time.monotonic() + 30
    while any(client.processing().values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(client.processing().values())
    assert not any((out / labels_of(rel)).exists() for rel, r in rows.items() if r["status"] == "interrupted"
                   and rel not in {n for n in names if (out / labels_of(n)).exists()})

    # The same command with a scheduler file resumes: only what is missing is done.
    sched = tmp_path / "scheduler.json"
    sched.write_text(json.dumps({"type": "Scheduler", "address": address}))
    code = main(["batch", str(folder), str(out), "-R", "--labels", "--threads", "1", "--scheduler-file", str(sched)])
    err = capsys.readouterr().err
    assert code == 0, err
    again = [r["status"] for r in read_manifest(out / "manifest.json")]
    assert again.count("ok") + again.count("skipped") == n and again.count("skipped") >= statuses.count("ok")
    assert "Dask scheduler" in err and f"{again.count('skipped')} skipped (done before), 0 failed" in err
    assert temp_files(out) == []
    for rel in names:
        with Image.open(out / labels_of(rel)) as im:
            assert im.size == (160, 120) and np.asarray(im).max() >= 1


# -- the executor ----------------------------------------------------------- #


def _slow_add(a: int, b: int, seconds: float = 0.0) -> int:
    time.sleep(seconds)
    return a + b


def _fail() -> None:
    raise ValueError("no good")


def waiting_forever(client):
    """An executor whose tasks wait for a worker that never comes (so that they occupy none)."""
    return cluster.executor(client, workers=["tcp://127.0.0.1:9"], allow_other_workers=False)


def test_the_executor_hands_over_results_errors_and_the_clusters_cancels(client):
    pool = cluster.executor(client)
    assert pool.submit(_slow_add, 1, 2).result(timeout=30) == 3
    assert pool.submit(_slow_add, 1, 2, seconds=0.01).result(timeout=30) == 3
    with pytest.raises(ValueError, match="no good"):
        pool.submit(_fail).result(timeout=30)
    pool = waiting_forever(client)
    slow = pool.submit(_slow_add, 1, 2)
    client.cancel(list(pool._pending))  # the cluster cancels it (a restart, another client)
    done, _ = wait([slow], timeout=30)
    assert slow in done and slow.cancelled()


def test_cancelling_a_future_cancels_its_task(client):
    pool = waiting_forever(client)
    slow = pool.submit(_slow_add, 1, 2)
    (task,) = pool._pending
    assert slow.cancel()
    deadline = time.monotonic() + 30
    while task.status != "cancelled" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert task.status == "cancelled"
    done, _ = wait([slow], timeout=30)  # and it counts as done
    assert slow in done


def test_a_cancel_that_lands_as_the_task_finishes_drops_its_outcome(client):
    """The race behind a traceback CI printed: the task finished, its outcome is on its way, and
    the future is cancelled first. Dask then hands the outcome over (as it does from its callback
    thread); the future stays cancelled, without an error, and ``wait`` counts it as done."""
    pool = cluster.executor(client)
    task = client.submit(_slow_add, 1, 2, pure=False)
    assert task.result(timeout=30) == 3
    future = Future()
    assert future.cancel()
    pool._hand_over(task, future)
    assert future.cancelled()
    done, _ = wait([future], timeout=0)
    assert future in done


def test_a_clients_own_executor_is_replaced_with_its_client_and_options(client):
    own = client.get_executor(pure=False, retries=2)
    pool = cluster.as_dask_executor(own)
    assert isinstance(pool, cluster.DaskExecutor) and pool.client is client
    assert pool._kwargs == {"pure": False, "retries": 2}
    assert cluster.as_dask_executor(pool) is pool
    assert cluster.client_of(pool) is client and cluster.client_of(own) is client
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as threads:
        assert cluster.as_dask_executor(threads) is threads and cluster.client_of(threads) is None


def test_shutdown_waits_for_the_tasks_or_cancels_them(client):
    pool = cluster.executor(client)
    quick = pool.submit(_slow_add, 1, 2, seconds=0.2)
    pool.shutdown(wait=True)
    assert quick.done() and quick.result() == 3
    with pytest.raises(RuntimeError, match="after shutdown"):
        pool.submit(_slow_add, 1, 2)
    pool = waiting_forever(client)
    slow = pool.submit(_slow_add, 1, 2)
    pool.shutdown(wait=False)
    done, _ = wait([slow], timeout=30)
    assert slow in done and slow.cancelled()


def test_an_unreachable_scheduler_is_one_line_within_the_timeout(capsys, tmp_path):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    (tmp_path / "in").mkdir()
    start = time.monotonic()
    code = main(["batch", str(tmp_path / "in"), str(tmp_path / "out"), "--scheduler", f"tcp://127.0.0.1:{port}",
                 "--scheduler-timeout", "1"])
    elapsed = time.monotonic() - start
    err = capsys.readouterr().err
    assert code == 1 and elapsed < 15, (code, elapsed)
    assert err.count("\n") == 1 and err.startswith(
        f"segshift: error: tcp://127.0.0.1:{port}: no Dask scheduler answered within 1 s"), err
    # A scheduler file that is not there, or names nothing.
    code = main(["batch", str(tmp_path / "in"), str(tmp_path / "out"), "--scheduler-file", str(tmp_path / "no.json")])
    err = capsys.readouterr().err
    assert code == 1 and err == f"segshift: error: {tmp_path / 'no.json'}: cannot read the scheduler file " \
        "(No such file or directory)\n"
    (tmp_path / "empty.json").write_text("{}")
    code = main(["batch", str(tmp_path / "in"), str(tmp_path / "out"), "--scheduler-file", str(tmp_path / "empty.json")])
    assert code == 1 and capsys.readouterr().err == f'segshift: error: {tmp_path / "empty.json"}: not a scheduler ' \
        'file (no "address")\n'


def test_without_dask_the_scheduler_option_says_what_to_install(tmp_path):
    (tmp_path / "in").mkdir()
    code = (
        "import sys; sys.modules['distributed'] = None\n"
        "from segshift.cli import main\n"
        f"sys.exit(main(['batch', {str(tmp_path / 'in')!r}, {str(tmp_path / 'out')!r}, "
        "'--scheduler', 'tcp://127.0.0.1:8786']))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == ("segshift: error: running on a Dask cluster needs dask.distributed: "
                           "pip install 'segshift[dask]'\n")


def test_a_future_cancelled_after_its_client_closed_raises_nothing(client, caplog):
    """Cancelling a future after the client that ran its task was closed (the order in which a
    Ctrl-C's clean-up may run) must not print a traceback from a callback ("IOLoop is closed")."""
    import logging

    from distributed import Client

    other = Client(client.scheduler.address, set_as_default=False)
    pool = cluster.executor(other, workers=["tcp://127.0.0.1:9"], allow_other_workers=False)
    pending = pool.submit(_slow_add, 1, 2)
    other.close()
    with caplog.at_level(logging.ERROR, logger="concurrent.futures"):
        assert pending.cancel()
    assert not [r for r in caplog.records if r.name == "concurrent.futures"], caplog.text
