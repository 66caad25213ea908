"""``Predictor(quantize="int8")``: dynamic int8 Linear layers with per-channel weight scales, close to fp32."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from framelab.models.predictor import Predictor


def test_int8_quantises_every_linear_per_channel_and_stays_close_to_fp32(tiny_classifier_dir: Path) -> None:
    texts = [
        "The council voted to raise rents again.",
        "A reckless plan!",
        "Nurses say the hospital is shameful and the mayor must go now.",
    ]
    fp32 = Predictor(tiny_classifier_dir)
    int8 = Predictor(tiny_classifier_dir, quantize="int8")
    quantised = [m for m in int8.model.modules() if isinstance(m, torch.ao.nn.quantized.dynamic.Linear)]
    assert quantised and not any(type(m) is torch.nn.Linear for m in int8.model.modules())
    # Symmetric per-channel observer; the packed weight reports it as per-channel affine with zero points 0.
    assert all(m.weight().qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric) for m in quantised)
    assert int8.device.type == "cpu"
    p32, p8 = fp32.probabilities(texts), int8.probabilities(texts)
    assert p8.shape == (len(texts), 3)
    np.testing.assert_allclose(p8, p32, atol=0.05)


def test_unknown_quantisation_is_refused(tiny_classifier_dir: Path) -> None:
    with pytest.raises(ValueError, match="int8"):
        Predictor(tiny_classifier_dir, quantize="int4")
