"""Cancel Dask-backed futures at random moments, as their tasks finish, and
count the tracebacks printed: distributed's own ``client.get_executor()``
against segshift's :class:`segshift._dask_cluster.DaskExecutor`.

A cancel that lands after a task has finished but before its outcome reached
the ``concurrent.futures`` future is the race behind a Ctrl-C traceback in
``segshift batch --scheduler``. The run starts a ``LocalCluster`` of two
worker processes (one thread each) and, for each executor, submits
``--rounds`` rounds of 4 tasks of 0 to 4 ms, cancelling them after 0 to 10 ms
(the same random draws for both).

    python scripts/stress_dask_cancel.py --rounds 300     # about 20 s
"""

from __future__ import annotations

import argparse
import io
import logging
import random
import time

from _record import record


def _quick(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def stress(make, client, rounds: int, seed: int) -> dict[str, int]:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    loggers = [logging.getLogger(name) for name in ("tornado.application", "distributed", "asyncio")]
    for logger in loggers:
        logger.addHandler(handler)
    rng = random.Random(seed)
    cancelled = 0
    try:
        for _ in range(rounds):
            executor = make(client)
            futures = [executor.submit(_quick, rng.uniform(0, 0.004)) for _ in range(4)]
            time.sleep(rng.uniform(0, 0.01))
            cancelled += sum(f.cancel() for f in futures)
            time.sleep(0.005)
        time.sleep(1.0)  # let the last outcomes arrive
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    text = buffer.getvalue()
    return {"cancelled": cancelled, "tracebacks": text.count("Traceback"),
            "InvalidStateError": text.count("InvalidStateError:")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    import distributed

    from segshift import _dask_cluster as dask_cluster

    executors = {
        "distributed: client.get_executor(pure=False)": lambda c: c.get_executor(pure=False),
        "segshift: dask_cluster.executor(client)": dask_cluster.executor,
    }
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        rows = []
        for name, make in executors.items():
            counts = stress(make, client, args.rounds, args.seed)
            rows.append([name, args.rounds * 4, counts["cancelled"], counts["InvalidStateError"], counts["tracebacks"]])
            print(f"{name:<46} {args.rounds} rounds of 4 tasks: {counts['cancelled']} cancelled, "
                  f"{counts['InvalidStateError']} InvalidStateError, {counts['tracebacks']} traceback(s) printed")


    record("stress_dask_cancel", "Cancelling Dask-backed futures at random moments",
           tables=[{"caption": f"{args.rounds} rounds of 4 tasks on a 2-worker LocalCluster (seed {args.seed})",
                    "columns": ["executor", "tasks", "cancelled", "InvalidStateError", "tracebacks printed"],
                    "rows": rows}],
           notes=["The cancels land at random moments, so the counts of distributed's executor vary from run to "
                  "run; segshift's executor should print none."])


if __name__ == "__main__":
    main()
