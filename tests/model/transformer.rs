//! The whole encoder–decoder: configuration, causality, attention maps, one training step.

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Int, Tensor};
use transformer_mt::model::{ConfigError, PaddingMasks, Transformer, TransformerConfig};
use transformer_mt::run::RunConfig;

use super::common::{PAD, batch, device, ids, max_abs_diff, normal, small_config, values};

fn field_of(result: Result<(), ConfigError>) -> &'static str {
    result.expect_err("the configuration is invalid").field
}

#[test]
fn invalid_configurations_name_their_field() {
    let valid = small_config();
    assert_eq!(valid.validate(), Ok(()));
    assert_eq!(
        field_of(valid.clone().with_n_heads(3).validate()),
        "n_heads"
    );
    assert_eq!(
        field_of(valid.clone().with_n_heads(0).validate()),
        "n_heads"
    );
    assert_eq!(
        field_of(valid.clone().with_d_model(0).validate()),
        "d_model"
    );
    assert_eq!(field_of(valid.clone().with_d_ff(0).validate()), "d_ff");
    assert_eq!(
        field_of(valid.clone().with_max_len(0).validate()),
        "max_len"
    );
    assert_eq!(
        field_of(valid.clone().with_n_decoder_layers(0).validate()),
        "n_decoder_layers"
    );
    assert_eq!(
        field_of(valid.clone().with_d_model(15).with_n_heads(5).validate()),
        "d_model"
    );
    assert_eq!(
        field_of(valid.clone().with_dropout(1.0).validate()),
        "dropout"
    );
    assert_eq!(
        field_of(valid.clone().with_tie_embeddings(true).validate()),
        "tie_embeddings"
    );

    // d_model = d_ff = 2¹⁵: the two encoder layers alone hold 2 × 6 × 2³⁰ weights, over 2³¹;
    // refused before any allocation, as are sizes whose products overflow.
    let huge = valid.clone().with_d_model(32_768).with_d_ff(32_768);
    assert_eq!(field_of(huge.validate()), "d_model");
    let absurd = valid.clone().with_d_model(1 << 62).with_n_heads(1);
    assert_eq!(field_of(absurd.validate()), "d_model");
    // The base model of the paper (6 + 6 layers, 37 k shared vocabulary) is far below.
    assert_eq!(
        TransformerConfig::new(37_000, 37_000)
            .with_max_len(512)
            .validate(),
        Ok(())
    );

    let error = valid.with_n_heads(3).init(&device()).expect_err("invalid");
    assert_eq!(
        error.to_string(),
        "invalid model configuration: `n_heads` must divide d_model: 16 is not a multiple of 3"
    );
}

#[test]
fn config_defaults_are_the_paper_base_model_and_json_round_trips() {
    let config = TransformerConfig::new(8000, 8000);
    assert_eq!(
        (
            config.d_model,
            config.n_heads,
            config.d_ff,
            config.n_encoder_layers
        ),
        (512, 8, 2048, 6)
    );
    assert_eq!(
        (config.dropout, config.norm_first, config.tie_embeddings),
        (0.1, false, true)
    );

    let json = serde_json::to_string(&small_config()).expect("json");
    let round_trip: TransformerConfig = serde_json::from_str(&json).expect("json");
    assert_eq!(round_trip, small_config());

    let missing = json.replace(r#""d_ff":32,"#, "");
    let error = serde_json::from_str::<TransformerConfig>(&missing).expect_err("d_ff is missing");
    assert!(
        error.to_string().contains("missing field `d_ff`"),
        "{error}"
    );
}

#[test]
fn tied_embeddings_share_one_matrix() {
    let device = device();
    let shared = TransformerConfig {
        tgt_vocab_size: 23,
        ..small_config()
    };
    let untied = shared.init(&device).expect("valid");
    let tied = shared
        .with_tie_embeddings(true)
        .init(&device)
        .expect("valid");
    assert!(tied.tgt_embedding.is_none() && tied.generator.is_none());
    // Untied has a second 23 × 16 embedding and a 16 → 23 generator with bias.
    assert_eq!(
        untied.num_params() - tied.num_params(),
        23 * 16 + 16 * 23 + 23
    );

    // The tied generator is h·Eᵀ.
    let hidden = normal([2, 3, 16], &device);
    let table = tied.src_embedding.table.weight.val();
    let expected = hidden
        .clone()
        .reshape([6, 16])
        .matmul(table.transpose())
        .reshape([2, 3, 23]);
    assert!(max_abs_diff(tied.generate(hidden), expected) < 1e-6);
}

#[test]
fn decoder_is_causal() {
    let device = device();
    let model = small_config().init(&device).expect("valid");
    let src = ids(&[&[3, 4, 5, 6]], &device);
    let tgt_a = ids(&[&[1, 7, 8, 9, 10, 11]], &device);
    let tgt_b = ids(&[&[1, 7, 8, 20, 21, 22]], &device);
    let logits = |tgt: Tensor<2, Int>| {
        let masks = PaddingMasks::from_tokens(src.clone(), tgt.clone(), PAD);
        model.forward(src.clone(), tgt, &masks)
    };
    let (a, b) = (logits(tgt_a), logits(tgt_b));
    // Positions 0..=2 see only the shared prefix [1, 7, 8].
    let before = max_abs_diff(a.clone().slice([0..1, 0..3]), b.clone().slice([0..1, 0..3]));
    assert!(before < 1e-6, "logits before the change moved by {before}");
    // Later positions see the change, so the check above can fail.
    let after = max_abs_diff(a.slice([0..1, 3..6]), b.slice([0..1, 3..6]));
    assert!(
        after > 1e-3,
        "logits after the change moved by only {after}"
    );
}

#[test]
fn attention_weights_of_every_layer_and_head_are_returned() {
    let device = device();
    let config = small_config().with_n_encoder_layers(3);
    let model = config.init(&device).expect("valid");
    let (src, tgt_in, _) = batch(&device);
    let masks = PaddingMasks::from_tokens(src.clone(), tgt_in.clone(), PAD);
    let (logits, weights) = model.forward_with_attention(src, tgt_in, &masks);
    assert_eq!(logits.dims(), [2, 5, 29]);
    assert_eq!(weights.encoder_self.len(), 3);
    assert_eq!(weights.decoder_self.len(), 2);
    assert_eq!(weights.decoder_cross.len(), 2);
    for w in &weights.encoder_self {
        assert_eq!(w.dims(), [2, 4, 5, 5]);
    }
    for (self_w, cross_w) in weights.decoder_self.iter().zip(&weights.decoder_cross) {
        assert_eq!(self_w.dims(), [2, 4, 5, 5]);
        assert_eq!(cross_w.dims(), [2, 4, 5, 5]);
        // Masked self-attention: nothing above the diagonal.
        let self_w = values(self_w.clone());
        for (i, w) in self_w.iter().enumerate() {
            if i % 5 > (i / 5) % 5 {
                assert_eq!(*w, 0.0);
            }
        }
        // The second source sentence's two pads get no attention from the target.
        let cross_w = values(cross_w.clone());
        for (i, w) in cross_w.iter().enumerate() {
            if i / (4 * 5 * 5) == 1 && i % 5 >= 3 {
                assert_eq!(*w, 0.0);
            }
        }
    }
}

/// Counts the parameters that have no gradient, or an all-zero one.
struct GradientCheck<'a> {
    grads: &'a GradientsParams,
    params: usize,
    without_gradient: usize,
}

impl ModuleVisitor for GradientCheck<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.params += 1;
        let nonzero = self
            .grads
            .get::<D>(param.id)
            .map(|g| g.abs().sum().into_scalar::<f32>() > 0.0);
        if nonzero != Some(true) {
            self.without_gradient += 1;
        }
    }
}

fn train_one_step(config: TransformerConfig) {
    let device = device().autodiff();
    let model: Transformer = config.init(&device).expect("valid");
    let (src, tgt_in, labels) = batch(&device);
    let masks = PaddingMasks::from_tokens(src.clone(), tgt_in.clone(), PAD);
    let loss_fn = CrossEntropyLossConfig::new()
        .with_pad_tokens(Some(vec![PAD]))
        .init(&device);
    let loss_of = |model: &Transformer| {
        let logits = model.forward(src.clone(), tgt_in.clone(), &masks);
        let [batch, len, vocab] = logits.dims();
        loss_fn.forward(
            logits.reshape([batch * len, vocab]),
            labels.clone().reshape([batch * len]),
        )
    };

    let loss = loss_of(&model);
    let before = loss.clone().into_scalar::<f32>();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let mut check = GradientCheck {
        grads: &grads,
        params: 0,
        without_gradient: 0,
    };
    model.visit(&mut check);
    assert!(
        check.params > 50,
        "only {} parameters visited",
        check.params
    );
    assert_eq!(check.without_gradient, 0, "of {} parameters", check.params);

    let mut optimizer = AdamConfig::new().init();
    let model = optimizer.step(1e-3, model, grads);
    let after = loss_of(&model).into_scalar::<f32>();
    assert!(after < before, "loss went from {before} to {after}");
}

#[test]
fn one_optimiser_step_lowers_the_loss_and_reaches_every_parameter() {
    train_one_step(small_config());
}

#[test]
fn one_optimiser_step_with_pre_norm_and_tied_embeddings() {
    let shared = TransformerConfig {
        tgt_vocab_size: 23,
        ..small_config()
    };
    train_one_step(shared.with_tie_embeddings(true).with_norm_first(true));
}

/// The paper's base model (table 3) from the run configuration `config/paper-base.json`:
/// 37000 shared BPE tokens.
///
/// Counted by hand: the tied embedding 37000·512 = 18,944,000; an attention layer 4·(512² +
/// 512) = 1,050,624; a FFN 512·2048 + 2048 + 2048·512 + 512 = 2,099,712; a LayerNorm 1024.
/// Encoder layer 1,050,624 + 2,099,712 + 2·1024 = 3,152,384; decoder layer 2·1,050,624 +
/// 2,099,712 + 3·1024 = 4,204,032; in all 18,944,000 + 6·3,152,384 + 6·4,204,032 = 63,082,496
/// (the paper rounds its own count to 65 million).
#[test]
fn the_paper_base_config_has_the_hand_counted_parameters() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/paper-base.json");
    let run = RunConfig::load(std::path::Path::new(path)).expect("a valid run configuration");
    let config = run.transformer(run.data.vocab_size, run.data.vocab_size);
    assert_eq!(
        config,
        TransformerConfig::new(37000, 37000).with_max_len(256)
    );
    assert_eq!(config.validate(), Ok(()));
    let model = config.init(&device()).expect("valid");
    assert_eq!(model.num_params(), 63_082_496);
}
