"""Stream admission (realtime/limits.py) against a real Redis: the caps hold when
many streams ask in the same turn of the event loop, they are asked in one round
trip per batch, streams that ask while a batch is out go together in the next,
releases free every slot, and a slot granted to a stream that gave up waiting
is freed at once."""

import asyncio
import uuid

import redis.asyncio as aioredis
from django.conf import settings

from realtime import limits
from realtime.channels import client_key, connections_key
from realtime.connection import Connection


def connection(workspace_id: str, subject_id: str) -> Connection:
    return Connection(workspace_id=workspace_id, subject_id=subject_id, stream="workspace",
                      soft_limit=10, hard_limit=20)


def eval_calls(info: dict) -> int:
    return int(info.get("cmdstat_eval", {}).get("calls", 0))


def run_with_gate(scenario):
    """Runs scenario(gate, redis) with a gate on a fresh event loop; background tasks
    are awaited before the loop ends."""

    async def main():
        redis = aioredis.Redis.from_url(settings.REDIS_URL)
        tasks: set[asyncio.Task] = set()

        def spawn(coroutine):
            task = asyncio.get_running_loop().create_task(coroutine)
            tasks.add(task)

        try:
            result = await scenario(limits.Gate(redis, spawn), redis)
            while tasks:  # a batch may spawn another (a release after a late grant)
                pending = set(tasks)
                tasks.clear()
                outcomes = await asyncio.gather(*pending, return_exceptions=True)
                assert not [error for error in outcomes if isinstance(error, Exception)]
            return result
        finally:
            await redis.aclose()

    return asyncio.run(main())


def test_the_caps_hold_for_streams_that_ask_in_the_same_turn_in_one_round_trip_per_batch(settings):
    settings.REALTIME_MAX_STREAMS_PER_WORKSPACE = 300
    settings.REALTIME_MAX_STREAMS_PER_PRINCIPAL = 1000
    workspace_id = str(uuid.uuid4())
    asking = [connection(workspace_id, f"key:{n % 3}") for n in range(400)]

    async def scenario(gate, redis):
        before = eval_calls(await redis.info("commandstats"))
        verdicts = await asyncio.gather(*(gate.admit(c) for c in asking))
        after = eval_calls(await redis.info("commandstats"))
        counted = await redis.zcard(connections_key("ws", workspace_id))
        record = await redis.get(client_key(asking[0].client_id))
        return verdicts, after - before, counted, record

    verdicts, round_trips, counted, record = run_with_gate(scenario)

    assert verdicts.count(limits.ADMITTED) == 300
    assert verdicts.count(limits.WORKSPACE_FULL) == 100
    assert verdicts[:300] == [limits.ADMITTED] * 300  # in the order they asked
    assert round_trips == -(-400 // limits.BATCH_SIZE)
    assert counted == 300
    assert record is not None


def test_streams_that_ask_one_per_turn_while_a_batch_is_out_share_the_next_round_trip(settings):
    """Sockets are accepted one per turn of the loop in a real storm: a batch is
    whatever asked while the previous call was out, not one loop turn."""
    settings.REALTIME_MAX_STREAMS_PER_WORKSPACE = 1000
    workspace_id = str(uuid.uuid4())
    asking = [connection(workspace_id, "key:a") for _ in range(40)]

    async def scenario(gate, redis):
        pauser = aioredis.Redis.from_url(settings.REDIS_URL)
        before = await redis.info("commandstats")
        # Holds every call for 300 ms so the first batch is surely still out.
        await pauser.execute_command("CLIENT", "PAUSE", 300)
        waiting = []
        for c in asking:
            waiting.append(asyncio.ensure_future(gate.admit(c)))
            await asyncio.sleep(0.001)
        verdicts = await asyncio.gather(*waiting)
        await pauser.execute_command("CLIENT", "PAUSE", 300)
        await pauser.aclose()
        for c in asking:
            gate.release(c)
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.5)
        after = await redis.info("commandstats")
        deletes = int(after.get("cmdstat_del", {}).get("calls", 0)) - int(
            before.get("cmdstat_del", {}).get("calls", 0))
        counted = await redis.zcard(connections_key("ws", workspace_id))
        return verdicts, eval_calls(after) - eval_calls(before), deletes, counted

    verdicts, admission_calls, release_calls, counted = run_with_gate(scenario)

    assert verdicts == [limits.ADMITTED] * 40
    assert admission_calls == 2  # the first stream, then the 39 that asked meanwhile
    assert release_calls == 2
    assert counted == 0


def test_the_principal_cap_is_counted_across_workspaces(settings):
    settings.REALTIME_MAX_STREAMS_PER_WORKSPACE = 1000
    settings.REALTIME_MAX_STREAMS_PER_PRINCIPAL = 2
    subject = f"key:{uuid.uuid4()}"
    asking = [connection(str(uuid.uuid4()), subject) for _ in range(3)]

    async def scenario(gate, redis):
        return await asyncio.gather(*(gate.admit(c) for c in asking))

    assert run_with_gate(scenario) == [limits.ADMITTED, limits.ADMITTED, limits.PRINCIPAL_FULL]


def test_released_streams_free_their_slots_and_records(settings):
    settings.REALTIME_MAX_STREAMS_PER_WORKSPACE = 5
    workspace_id = str(uuid.uuid4())
    first = [connection(workspace_id, "key:a") for _ in range(5)]
    second = [connection(workspace_id, "key:b") for _ in range(5)]

    async def scenario(gate, redis):
        admitted = await asyncio.gather(*(gate.admit(c) for c in first))
        for c in first:
            gate.release(c)
        await asyncio.sleep(0.2)  # the release batch runs on the next turns
        records = [await redis.get(client_key(c.client_id)) for c in first]
        readmitted = await asyncio.gather(*(gate.admit(c) for c in second))
        return admitted, records, readmitted

    admitted, records, readmitted = run_with_gate(scenario)

    assert admitted == [limits.ADMITTED] * 5
    assert records == [None] * 5
    assert readmitted == [limits.ADMITTED] * 5


def test_a_slot_granted_to_a_stream_that_stopped_waiting_is_freed(settings):
    settings.REALTIME_MAX_STREAMS_PER_WORKSPACE = 1
    workspace_id = str(uuid.uuid4())
    impatient, patient = connection(workspace_id, "key:a"), connection(workspace_id, "key:b")

    async def scenario(gate, redis):
        waiting = asyncio.ensure_future(gate.admit(impatient))
        await asyncio.sleep(0)  # it has asked
        waiting.cancel()
        await asyncio.sleep(0.2)  # its grant arrives, and is released
        return await gate.admit(patient), await redis.zcard(connections_key("ws", workspace_id))

    verdict, counted = run_with_gate(scenario)

    assert verdict == limits.ADMITTED
    assert counted == 1


def test_a_redis_failure_reaches_every_stream_of_the_batch():
    async def scenario(gate, redis):
        broken = limits.Gate(aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5),
                             gate._spawn)
        results = await asyncio.gather(*(broken.admit(connection("w", "s")) for _ in range(3)),
                                       return_exceptions=True)
        return results

    results = run_with_gate(scenario)

    assert len(results) == 3 and all(isinstance(result, Exception) for result in results)
