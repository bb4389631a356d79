"""Row ids (models.base.new_id): UUID version 7, ordered by the time they were made, never the
same twice, also in processes forked from one another (gunicorn's and RQ's workers)."""
import os
import pickle
import time
import uuid

from models.base import new_id, uuid_of


def test_ids_are_version_7_and_carry_the_millisecond_they_were_made():
    before = time.time_ns() // 1_000_000
    made = new_id()
    after = time.time_ns() // 1_000_000
    assert made.version == 7 and made.variant == uuid.RFC_4122
    assert before <= made.int >> 80 <= after


def test_ids_made_later_sort_after_and_none_repeats():
    first = [new_id() for _ in range(5000)]
    time.sleep(0.002)
    later = [new_id() for _ in range(5000)]
    assert max(first) < min(later)
    assert len(set(first + later)) == 10_000


def test_a_forked_process_makes_other_ids_than_its_parent():
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        os.write(write, new_id().bytes)
        os._exit(0)
    os.waitpid(child, 0)
    from_child = uuid.UUID(bytes=os.read(read, 16))
    from_parent = new_id()
    assert from_child.int & ((1 << 74) - 1) != from_parent.int & ((1 << 74) - 1)


def test_a_uuid_made_without_the_constructor_is_the_one_it_would_make():
    number = new_id().int
    made, constructed = uuid_of(number), uuid.UUID(int=number)

    def seen(value):
        return value, hash(value), str(value), value.hex, value.is_safe

    assert seen(made) == seen(constructed)
    assert pickle.loads(pickle.dumps(made)) == constructed and type(made) is uuid.UUID
