"""CVRL's pytorchvideo encoders (spec §2.2 "Backbone"; checks 4 and 19)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch

from sslcli.errors import UsageError
from sslcli_video.methods import backbones, cvrl_spec
from sslcli_video.methods.backbones import build_backbone, cvrl_encoder, num_parameters


@pytest.mark.parametrize("name, millions, dim", [("r3d50-w16", 2.00, 512),
                                                 ("r3d50-w8", 0.51, 256)])
def test_small_r3d50_sizes_and_forward_check4(name: str, millions: float, dim: int) -> None:
    torch.manual_seed(0)
    enc = build_backbone(name)
    assert round(num_parameters(enc) / 1e6, 2) == millions
    assert enc.out_dim == dim
    enc.eval()
    with torch.no_grad():
        out = enc(torch.rand(2, 3, 4, 32, 32))
    assert out.shape == (2, dim) and torch.isfinite(out).all()


def test_r3d50_parameter_count_check4() -> None:
    enc = build_backbone("r3d50")
    assert abs(num_parameters(enc) / 1e6 - 31.67) <= 0.01
    assert enc.out_dim == 2048
    # the TF resnet_3d layout: 5x7x7 stem at stride 2 in time, (3,1,1) conv_a in stages 3-4
    stem = enc.trunk.blocks[0].conv
    assert stem.kernel_size == (5, 7, 7) and stem.stride == (2, 2, 2)
    assert len(enc.trunk.blocks) == 5  # stem + 4 stages, no head


@pytest.mark.slow
def test_r3d50_forward_shape_check4() -> None:
    enc = build_backbone("r3d50").eval()
    with torch.no_grad():
        fmap = enc.features(torch.rand(2, 3, 16, 224, 224))
        assert fmap.shape == (2, 2048, 8, 7, 7)
        assert enc.pool(fmap).flatten(1).shape == (2, 2048)


def test_other_backbones() -> None:
    x3d = build_backbone("x3d-xs", frames=4, size=32).eval()
    assert abs(num_parameters(x3d) / 1e6 - 2.97) < 0.01 and x3d.out_dim == 2048
    with torch.no_grad():
        assert x3d(torch.rand(2, 3, 4, 32, 32)).shape == (2, 2048)
    r21 = build_backbone("r2plus1d")
    assert abs(num_parameters(r21) / 1e6 - 27.29) < 0.01 and r21.out_dim == 2048
    with pytest.raises(UsageError, match="r3d50-w16"):
        build_backbone("resnet18")


def test_encoder_factory_rebuilds_the_same_architecture() -> None:
    a, b = cvrl_encoder("r3d50-w8", 4, 32), build_backbone("r3d50-w8", 4, 32)
    assert a.state_dict().keys() == b.state_dict().keys()
    a.load_state_dict(b.state_dict())  # strict


def test_pytorchvideo_transforms_never_imported_check19() -> None:
    build_backbone("r3d50-w8")
    assert "pytorchvideo.models.resnet" in sys.modules
    assert "pytorchvideo.transforms" not in sys.modules


def test_missing_pytorchvideo_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backbones, "available", lambda: False)
    with pytest.raises(UsageError, match=r"pip install 'pytorchvideo==0\.1\.5'"):
        build_backbone("r3d50-w8")


def test_without_pytorchvideo_cvrl_is_listed_unavailable_check19() -> None:
    """A fresh interpreter where ``import pytorchvideo`` fails: the plugin loads, ``cvrl`` is
    listed with the install hint and refuses to build (exit 2); ``discovr`` is still there."""
    code = textwrap.dedent("""
        import sys, warnings
        sys.modules["pytorchvideo"] = None  # as if not installed
        from sslcli.errors import UsageError
        from sslcli.plugins import make_plugin_manager
        from sslcli.registry import Registry
        reg = Registry.build(make_plugin_manager())
        spec = reg.method("video", "cvrl")
        assert spec.capabilities["available"] is False, spec.capabilities
        assert "pip install 'pytorchvideo==0.1.5'" in spec.description
        assert "pytorchvideo" in spec.capabilities["unavailable_reason"]
        assert reg.method("video", "discovr").name == "discovr"
        assert "torch" not in sys.modules  # listing stays torch-free
        try:
            spec.build({}, {})
        except UsageError as err:
            assert err.exit_code == 2 and "pip install" in str(err), err
        else:
            raise AssertionError("cvrl built without pytorchvideo")
        assert not any(m.startswith("pytorchvideo.") for m in sys.modules)
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_spec_reports_available_here() -> None:
    spec = cvrl_spec.method_spec()
    assert spec.capabilities["available"] is True and spec.capabilities["sync_bn"] is True
    assert "unavailable" not in spec.description
