"""BERT twins, text data, MLM pre-training and GLUE fine-tuning (the glue suite)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy.stats import pearsonr
from sklearn.metrics import matthews_corrcoef

from acn_bench import UserError, create_backbone
from acn_bench.cli import main
from acn_bench.data.text import (
    CLS_ID,
    MASK_ID,
    PAD_ID,
    SEP_ID,
    encode_glue,
    load_glue,
    mask_tokens,
    pack_corpus,
    read_corpus,
    train_tokenizer,
)
from acn_bench.training.text import task_metric


def sequences(batch=3, length=20, vocab=1000):
    ids = torch.randint(5, vocab, (batch, length), generator=torch.Generator().manual_seed(0))
    ids[:, 0], ids[:, 9], ids[:, -1] = CLS_ID, SEP_ID, SEP_ID
    ids[0, 14:] = PAD_ID
    return ids


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_bert_twins_have_equal_parameters_and_the_paper_size():
    assert n_params(create_backbone("bert_base", connectivity="acn")) == n_params(create_backbone("bert_base"))
    assert n_params(create_backbone("bert_base")) == pytest.approx(110e6, rel=0.02)


@pytest.mark.parametrize("connectivity", ["acn", "residual"])
def test_bert_probe_truncation_and_padding_follow_the_contract(connectivity):
    torch.manual_seed(0)
    model = create_backbone("bert_tiny", connectivity=connectivity).eval()
    ids = sequences()
    probe = model.probe(ids)
    assert probe.shape == (3, 3, 2)
    assert torch.allclose(model.truncate(1)(ids), probe[1], atol=1e-5)
    assert torch.allclose(model(ids[:1, :14]), model(ids[:1]), atol=1e-5)  # padding is masked out


def test_residual_bert_layer_adds_its_input_and_the_acn_layer_does_not():
    torch.manual_seed(0)
    block = create_backbone("bert_tiny").blocks[0].eval()
    x = torch.randn(2, 5, 64)
    assert not torch.allclose(block(x, residual=True), block(x, residual=False))
    expected = block.norm1(block.attn(x, torch.ones(2, 5, dtype=torch.bool)))
    assert torch.allclose(block.norm2(block.ffn(expected)), block(x), atol=1e-6)


def test_mlm_head_shares_the_word_embeddings_and_gradients_reach_every_block():
    model = create_backbone("bert_tiny", connectivity="acn")
    model.use_mlm_head()
    assert model.head.fc.weight is model.embed.word.weight
    logits = model(sequences())
    assert logits.shape == (3, 20, 1000)
    logits.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.blocks.parameters())


def test_tokenizer_packing_and_masking(text_data):
    lines = read_corpus(text_data / "corpus")
    tokenizer = train_tokenizer(lines, 300, text_data / "tok.tokenizer")
    assert [tokenizer.token_to_id(t) for t in ("[PAD]", "[CLS]", "[SEP]", "[MASK]")] == [
        PAD_ID,
        CLS_ID,
        SEP_ID,
        MASK_ID,
    ]
    assert (
        train_tokenizer(lines, 999, text_data / "tok.tokenizer").get_vocab_size() == tokenizer.get_vocab_size()
    )  # reused
    packed = pack_corpus(tokenizer, lines, 32, text_data / "packed.npy")
    assert isinstance(packed, np.memmap) and packed.dtype == np.int32
    packed = torch.from_numpy(np.array(packed, dtype=np.int64))
    assert packed.shape[1] == 32 and (packed[:, 0] == CLS_ID).all() and (packed[:, -1] == SEP_ID).all()
    assert len(read_corpus(text_data / "corpus", max_lines=10)) == 10
    inputs, labels = mask_tokens(packed, tokenizer.get_vocab_size(), torch.Generator().manual_seed(1))
    chosen = labels != -100
    assert 0.12 < chosen[:, 1:-1].float().mean() < 0.18 and not chosen[:, [0, -1]].any()
    assert (inputs[chosen] == MASK_ID).float().mean() == pytest.approx(0.8, abs=0.05)
    assert torch.equal(inputs[~chosen], packed[~chosen]) and torch.equal(labels[chosen], packed[chosen])
    again = mask_tokens(packed, tokenizer.get_vocab_size(), torch.Generator().manual_seed(1))
    assert torch.equal(again[0], inputs)


def test_sentence_pairs_are_encoded_as_two_segments(text_data):
    lines = read_corpus(text_data / "corpus")
    tokenizer = train_tokenizer(lines, 300, text_data / "tok.tokenizer")
    data = load_glue("stsb", text_data)
    encoded = encode_glue(tokenizer, data, "stsb", "validation", 32)
    assert encoded.ids.shape == (64, 32) and encoded.targets.dtype == torch.float32
    assert ((encoded.ids == SEP_ID).sum(dim=1) == 2).all()
    segments = create_backbone("bert_tiny").embed.segments(encoded.ids[:1])
    first_sep = int((encoded.ids[0] == SEP_ID).nonzero()[0])
    assert segments[0, : first_sep + 1].sum() == 0 and segments[0, first_sep + 1 :].min() == 1


def test_task_metrics_match_sklearn_and_scipy():
    rng = np.random.default_rng(0)
    y, p = torch.tensor(rng.integers(0, 2, 50)), torch.tensor(rng.integers(0, 2, 50))
    assert task_metric("mcc", p, y) == pytest.approx(matthews_corrcoef(y, p))
    assert task_metric("accuracy", p, y) == pytest.approx(float((p == y).double().mean()))
    s, t = torch.tensor(rng.normal(size=50)), torch.tensor(rng.normal(size=50))
    assert task_metric("pearson", s, t) == pytest.approx(pearsonr(s, t)[0])


def test_empty_corpus_is_refused(tmp_path):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.txt").write_text("\n  \n\n")
    with pytest.raises(UserError, match="holds no text"):
        read_corpus(tmp_path / "corpus")


@pytest.mark.slow
def test_glue_suite_pretrains_once_and_fine_tunes_each_task(text_data, tmp_path, capsys):
    out = tmp_path / "results"
    common = [
        "--profile",
        "smoke",
        "--data-root",
        str(text_data),
        "--out",
        str(out),
        "--no-progress",
        "--only",
        "connectivity=acn",
    ]
    assert main(["run", "glue", "--dataset", "sst2", *common]) == 0
    assert main(["run", "glue", "--dataset", "stsb", *common]) == 0
    assert capsys.readouterr().out.count("reusing the trained model") == 1
    records = {r["dataset"]["name"]: r for r in (json.loads(p.read_text()) for p in (out / "glue").glob("*.json"))}
    assert set(records) == {"glue-sst2", "glue-stsb"}
    sst2, stsb = records["glue-sst2"], records["glue-stsb"]
    assert (
        len(sst2["probe"]) == 3 and sst2["metrics"]["metric"] == "accuracy" and stsb["metrics"]["metric"] == "pearson"
    )
    assert sst2["metrics"]["tokens_per_s"] > 0 and len(sst2["history"]["mlm_probe"]) == 3
    assert sst2["history"]["mlm_probe"] == stsb["history"]["mlm_probe"]  # one pre-trained model, two tasks
    assert sst2["metrics"]["score"] > 0.8  # the adjective decides the label: learnt in three epochs
    assert str(tmp_path) not in json.dumps(sst2)  # records carry no path of the machine that made them


@pytest.mark.parametrize(
    "args, message",
    [
        (["--dataset", "sst3"], "unknown dataset for suite 'glue'"),
        (["--dataset", "qnli"], "GLUE task 'qnli' not found"),
    ],
)
def test_glue_bad_input_exits_2_and_writes_nothing(text_data, tmp_path, capsys, args, message):
    out = tmp_path / "results"
    assert main(["run", "glue", "--profile", "smoke", "--data-root", str(text_data), "--out", str(out), *args]) == 2
    assert message in capsys.readouterr().err
    assert not list(out.rglob("*.json"))


def test_mlm_loss_at_the_masked_tokens_only_equals_the_all_positions_loss_and_gradients():
    from acn_bench.training.text import MaskedLMLoss, MaskedTargets, masked_lm_loss, masked_positions

    torch.manual_seed(0)
    model = create_backbone("bert_tiny", connectivity="acn", dropout=0.0)
    model.use_mlm_head()
    inputs, labels = mask_tokens(sequences(batch=6), 1000, torch.Generator().manual_seed(3))
    chosen = labels != -100
    targets = MaskedTargets(labels, chosen.sum(dim=1))
    assert torch.equal(masked_positions(labels, int(chosen.sum())), chosen.flatten().nonzero().squeeze(1))

    def loss_and_grads(compute):
        model.zero_grad(set_to_none=True)
        loss = compute()
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in model.parameters()]

    full, full_grads = loss_and_grads(lambda: MaskedLMLoss()(model(inputs), labels))  # logits at every token
    gathered, gathered_grads = loss_and_grads(
        lambda: masked_lm_loss(model.head, model.forward_features(inputs), targets, MaskedLMLoss())
    )
    assert gathered.item() == pytest.approx(full.item(), abs=1e-6)
    for a, b in zip(full_grads, gathered_grads):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-5)
    rep = model.forward_features(inputs)
    assert torch.allclose(model.head.masked_logits(rep, chosen.flatten().nonzero().squeeze(1)), model.head(rep)[chosen])


def test_mlm_training_runs_the_vocabulary_projection_at_the_masked_tokens_only():
    from acn_bench.data.text import TextSet
    from acn_bench.training import TrainConfig
    from acn_bench.training.text import TextTrainer

    torch.manual_seed(0)
    model = create_backbone("bert_tiny", connectivity="acn")
    model.use_mlm_head()
    ids = sequences(batch=40)
    config = TrainConfig(epochs=1, batch_size=8, warmup_epochs=0, label_smoothing=0.0, eval_batch_size=16)
    trainer = TextTrainer(model, config, TextSet(ids[:32], ids[:32], "t"), TextSet(ids[32:], ids[32:], "h"), mode="mlm")
    rows = []
    hook = model.head.fc.register_forward_hook(lambda module, args, out: rows.append(args[0].shape[0]))
    batches = list(trainer._epoch_batches(0, 0))
    result = trainer.fit()
    hook.remove()
    masked = [int(y.counts.sum()) for _, y in batches]
    assert rows[: len(masked)] == masked and all(0 < n < 8 * 20 for n in masked)  # the training steps' decoder rows
    assert len(result.val_probe_acc) == model.depth + 1 and all(0 <= a <= 1 for a in result.val_probe_acc)
