"""A tiny Piper-compatible voice: an ONNX graph and its JSON config, generated on the spot.

Every phoneme id becomes SAMPLES_PER_ID samples of a tone whose pitch depends on the id, so the
audio's length follows the text's length deterministically (no model download needed).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

VOICE_NAME = "moxie_test-tiny-x_low"
SAMPLE_RATE = 16000
SAMPLES_PER_ID = 240  # 15 ms per phoneme id


def _phoneme_id_map() -> dict[str, list[int]]:
    symbols = ["_", "^", "$", " "]
    for code in [*range(0x21, 0x7F), *range(0xA1, 0x370), *range(0x1D00, 0x1DC0)]:
        char = chr(code)
        if char not in symbols and char.isprintable():
            symbols.append(char)
    symbols += ["\u2191", "\u2193", "\u02d0", "\u0303", "\u032a"]
    return {symbol: [index] for index, symbol in enumerate(dict.fromkeys(symbols))}


def write_voice(directory: Path, name: str = VOICE_NAME) -> Path:
    """Write `<name>.onnx` and `<name>.onnx.json` into directory; return the onnx path."""
    id_map = _phoneme_id_map()
    num_symbols = max(ids[0] for ids in id_map.values()) + 1
    phase = np.array(
        [[[2 * math.pi * 220.0 * n / SAMPLE_RATE for n in range(SAMPLES_PER_ID)]]],
        dtype=np.float32,
    )
    nodes = [
        helper.make_node("Cast", ["input"], ["ids"], to=TensorProto.FLOAT),
        helper.make_node("Div", ["ids", "n_sym"], ["rel"]),
        helper.make_node("Add", ["rel", "one"], ["pitch"]),
        helper.make_node("Unsqueeze", ["pitch", "axis2"], ["pitch3"]),
        helper.make_node("Mul", ["pitch3", "phase"], ["angles"]),
        helper.make_node("Sin", ["angles"], ["wave"]),
        helper.make_node("Mul", ["wave", "amp"], ["scaled"]),
        helper.make_node("Reshape", ["scaled", "shape"], ["output"]),
    ]
    initializers = [
        helper.make_tensor("n_sym", TensorProto.FLOAT, [], [float(num_symbols)]),
        helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]),
        helper.make_tensor("amp", TensorProto.FLOAT, [], [0.5]),
        helper.make_tensor("axis2", TensorProto.INT64, [1], [2]),
        helper.make_tensor("shape", TensorProto.INT64, [3], [1, 1, -1]),
        onnx.numpy_helper.from_array(phase, "phase"),
    ]
    graph = helper.make_graph(
        nodes,
        "moxie_tiny_voice",
        [
            helper.make_tensor_value_info("input", TensorProto.INT64, [1, "T"]),
            helper.make_tensor_value_info("input_lengths", TensorProto.INT64, [1]),
            helper.make_tensor_value_info("scales", TensorProto.FLOAT, [3]),
        ],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, "S"])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    directory.mkdir(parents=True, exist_ok=True)
    onnx_path = directory / f"{name}.onnx"
    onnx.save(model, str(onnx_path))
    config = {
        "audio": {"sample_rate": SAMPLE_RATE, "quality": "x_low"},
        "espeak": {"voice": "es"},
        "language": {"code": "es_ES"},
        "inference": {"noise_scale": 0.667, "length_scale": 1.0, "noise_w": 0.8},
        "phoneme_type": "espeak",
        "phoneme_id_map": id_map,
        "num_symbols": num_symbols,
        "num_speakers": 1,
        "speaker_id_map": {},
        "piper_version": "1.0.0",
    }
    (directory / f"{name}.onnx.json").write_text(json.dumps(config), encoding="utf-8")
    return onnx_path
