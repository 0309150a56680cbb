"""write_json: NumPy scalars and arrays and paths are written as plain JSON; anything else fails
before the target is touched."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from seqvae.io.atomic import write_json


def test_write_json_converts_numpy_values_and_paths(tmp_path):
    target = tmp_path / "out.json"
    write_json(
        target,
        {
            "n": np.int64(3),
            "x": np.float32(0.5),
            "rows": np.arange(3).reshape(1, 3),
            "file": Path("a") / "b.csv",
        },
    )
    assert json.loads(target.read_text()) == {"n": 3, "x": 0.5, "rows": [[0, 1, 2]], "file": "a/b.csv"}


def test_write_json_refuses_other_objects_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"kept": True})
    with pytest.raises(TypeError, match="not JSON serialisable: object"):
        write_json(target, {"bad": object()})
    assert json.loads(target.read_text()) == {"kept": True}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temporary left behind
