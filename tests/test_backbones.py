"""Backbones: parameter counts, twins, probing, truncation, direct-gradient ablation, registry."""

from __future__ import annotations

import pytest
import torch

from acn_bench import UserError, create_backbone, list_backbones
from acn_bench.backbones import CONNECTIVITIES, registry
from acn_bench.plugins import load_plugin

TINY = {"mixer_tiny": {}, "vit_tiny": {}}


def n_params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("connectivity", ["residual", "acn"])
def test_paper_mixer_has_the_official_parameter_count(connectivity):
    assert n_params(create_backbone("mixer_cifar", connectivity=connectivity)) == 2_527_002
    assert n_params(create_backbone("mixer_cifar", connectivity=connectivity, mixer_output_block=False)) == 2_258_714


def test_vit_presets_match_published_sizes():
    assert n_params(create_backbone("vit_b16")) == pytest.approx(86.57e6, rel=1e-3)
    assert n_params(create_backbone("vit_s16")) == pytest.approx(21.97e6, rel=1e-3)


@pytest.mark.parametrize("name", TINY)
def test_twins_differ_only_in_connectivity(name):
    counts = {c: n_params(create_backbone(name, connectivity=c)) for c in ("residual", "acn", "acn-dg", "plain")}
    assert len(set(counts.values())) == 1
    depth = create_backbone(name).depth
    assert n_params(create_backbone(name, connectivity="denseformer")) == counts["acn"] + depth * (depth + 1) // 2


@pytest.mark.parametrize("name", TINY)
@pytest.mark.parametrize("connectivity", list(CONNECTIVITIES))
def test_truncate_equals_probe_at_every_depth(name, connectivity):
    model = create_backbone(name, connectivity=connectivity).eval()
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        probe = model.probe(x)
        assert probe.shape == (model.depth + 1, 3, 10)
        assert torch.allclose(probe[-1], model(x), atol=1e-5)
        for k in range(model.depth + 1):
            small = model.truncate(k)
            assert small.depth == k and len(small.blocks) == k
            assert torch.allclose(small(x), probe[k], atol=1e-5), k
    assert n_params(model.truncate(1)) < n_params(model)


def test_acn_output_is_embedding_plus_every_block_output():
    model = create_backbone("mixer_tiny", connectivity="acn").eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        h = model.embed(x)
        total = h.clone()
        for block in model.blocks:
            h = block(h)  # block i+1 receives x_i itself, not the running sum
            total = total + h
        assert torch.allclose(model.head(total), model(x), atol=1e-5)


def test_residual_twin_adds_a_residual_around_each_sublayer():
    model = create_backbone("vit_tiny", connectivity="residual", depth=1).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        h = model.embed(x)
        for sublayer in model.blocks[0].sublayers:
            h = h + sublayer(h)
        assert torch.allclose(model.head(h), model(x), atol=1e-5)


@pytest.mark.parametrize("name", ["mixer_tiny", "vit_tiny", "bert_tiny"])
def test_forward_head_gives_logits_or_the_pooled_features_before_the_classifier(name):
    model = create_backbone(name, connectivity="acn").eval()
    x = model.example_input(3)
    with torch.no_grad():
        tokens = model.forward_features(x)
        assert tokens.dim() == 3 and tokens.shape[0] == 3  # B x N x dim: tokens, not pooled
        pooled = model.forward_head(tokens, pre_logits=True)
        assert pooled.shape == (3, model.num_features)
        assert torch.allclose(model.head.fc(pooled), model(x), atol=1e-5)
        assert torch.equal(model.forward_head(tokens), model(x))


def test_example_inputs_are_seeded_and_of_the_models_kind():
    images = create_backbone("vit_tiny").example_input()
    assert images.dtype == torch.float32 and images.shape == (2, 3, 32, 32)
    assert torch.equal(images, create_backbone("vit_tiny").example_input())
    assert create_backbone("mixer_tiny", in_chans=1).example_input(5).shape == (5, 1, 32, 32)
    assert create_backbone("mixer_tiny").example_input(1, shape=(3, 16, 16)).shape == (1, 3, 16, 16)
    bert = create_backbone("bert_tiny")
    ids = bert.example_input(4)
    assert ids.dtype == torch.int64 and ids.shape == (4, 128)  # bert_tiny's max_len
    assert ids.min() > max(bert.config["pad_id"], bert.config["sep_id"]) and ids.max() < bert.config["vocab_size"]
    assert torch.equal(ids, bert.example_input(4)) and bert.example_input(1, shape=(32,)).shape == (1, 32)
    assert create_backbone("bert_tiny", max_len=64).example_input().shape == (2, 64)
    assert create_backbone("bert_tiny", connectivity="acn")(ids).shape == (4, 2)


def block_outputs(model, x):
    state = model.connectivity.start(model.embed(x))
    outputs = []
    for i, block in enumerate(model.blocks):
        state = model.connectivity.step(i, block, state)
        outputs.append(state[0])
    return outputs


@pytest.mark.parametrize("connectivity, later_blocks_reach", [("acn-dg", False), ("acn", True)])
def test_direct_gradient_ablation_cuts_gradients_from_later_blocks(connectivity, later_blocks_reach):
    model = create_backbone("mixer_tiny", connectivity=connectivity)
    outputs = block_outputs(model, torch.randn(2, 3, 32, 32))
    outputs[-1].pow(2).sum().backward()  # only the last block's output, i.e. through later blocks
    for block in list(model.blocks)[:-1]:
        grads = [p.grad for p in block.parameters() if p.grad is not None]
        reached = any(g.abs().sum() > 0 for g in grads)
        assert reached is later_blocks_reach


def test_direct_gradient_ablation_still_trains_every_block_through_the_sum():
    model = create_backbone("mixer_tiny", connectivity="acn-dg")
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    for block in model.blocks:
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in block.parameters())


def test_dense_connectivity_starts_as_the_sum_of_earlier_outputs():
    model = create_backbone("mixer_tiny", connectivity="dense").eval()
    outs = [torch.randn(2, 5, 32) for _ in range(3)]
    assert torch.allclose(model.connectivity.block_input(2, outs), sum(outs), atol=1e-5)


def test_registry_lists_presets_and_rejects_bad_requests():
    assert {"mixer_cifar", "mixer_small", "mixer_tiny", "vit_b16", "vit_s16", "vit_tiny"} <= set(list_backbones())
    with pytest.raises(UserError, match="unknown backbone 'nope'.*mixer_cifar"):
        create_backbone("nope")
    with pytest.raises(UserError, match="does not take 'widht'.*depth"):
        create_backbone("mixer_tiny", widht=3)
    with pytest.raises(UserError, match="depth must be .* got 0"):
        create_backbone("mixer_tiny", depth=0)
    with pytest.raises(UserError, match="unknown connectivity 'skip'.*acn-dg"):
        create_backbone("mixer_tiny", connectivity="skip")
    with pytest.raises(UserError, match="patch_size 5 must divide img_size 32"):
        create_backbone("mixer_tiny", patch_size=5)


PLUGIN = '''
from acn_bench import register_backbone
from acn_bench.backbones.mixer import build_mixer

@register_backbone("{name}")
def tiny_plugin_net(connectivity="residual", num_classes=10, img_size=32, in_chans=3, depth=2, patch_size=8):
    """A two-layer Mixer from a plugin file."""
    return build_mixer(connectivity=connectivity, num_classes=num_classes, img_size=img_size, in_chans=in_chans,
                       depth=depth, patch_size=patch_size, dim=16, token_hidden=8, channel_hidden=32)
'''


@pytest.fixture
def clean_registry():
    before = dict(registry._REGISTRY)
    yield
    registry._REGISTRY.clear()
    registry._REGISTRY.update(before)


def test_plugin_file_registers_a_backbone(tmp_path, clean_registry):
    path = tmp_path / "my_plugin.py"
    path.write_text(PLUGIN.format(name="plugin-net"))
    assert load_plugin(path).backbones == ["plugin-net"]
    model = create_backbone("plugin-net", connectivity="acn")
    assert model.probe(torch.randn(1, 3, 32, 32)).shape == (3, 1, 10)


def test_plugin_that_raises_on_import_is_a_user_error(tmp_path, clean_registry):
    path = tmp_path / "broken.py"
    path.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(UserError, match=r"broken.py.*raised on import.*boom"):
        load_plugin(path)
    with pytest.raises(UserError, match="does not exist"):
        load_plugin(tmp_path / "missing.py")


def test_entry_point_group_registers_third_party_backbones(tmp_path, monkeypatch, clean_registry):
    (tmp_path / "thirdparty_nets.py").write_text(
        PLUGIN.format(name="unused").replace('@register_backbone("unused")\n', "")
    )
    dist = tmp_path / "thirdparty_nets-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: thirdparty-nets\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[acn_bench.backbones]\nthird-party-net = thirdparty_nets:tiny_plugin_net\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_entry_points_loaded", False)
    assert "third-party-net" in list_backbones()
    assert create_backbone("third-party-net", connectivity="acn").depth == 2
