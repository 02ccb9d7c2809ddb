"""The int8 encoder: selectable, made once from the checked fp32 graph, close to fp32 (parity: bench/int8_parity.py)."""
import numpy as np
import pytest

from models.encoder import Encoder, _onnx_file

TEXTS = ["Thanks, the new timetable for the number 7 bus is much better.",
         "You are an idiot and everyone here knows it.",
         "Who pays for the extra buses? The article does not say."]


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="fp32 or int8"):
        Encoder(precision="int4")


@pytest.mark.model
@pytest.mark.slow
def test_int8_encoder_is_a_smaller_graph_close_to_fp32(monkeypatch):
    fp32, int8 = Encoder(precision="fp32"), Encoder(precision="int8")
    path = _onnx_file(fp32.model_path)
    quantised = path.with_name(path.stem + "-int8.onnx")
    assert quantised.exists() and quantised.stat().st_size < 0.8 * path.stat().st_size
    a, b = fp32.encode(TEXTS), int8.encode(TEXTS)
    cos = (a * b).sum(axis=1)
    assert np.all(cos > 0.95) and not np.allclose(a, b)  # int8 really ran, and stayed close
    monkeypatch.setenv("MODERATION_ENCODER_PRECISION", "int8")
    assert Encoder().precision == "int8"
