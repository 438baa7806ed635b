//! The positional encoding equals the paper's formula.

use transformer_mt::model::positional_encoding::{PositionalEncodingConfig, sinusoid_table};

use super::common::{device, max_abs_diff, tensor, values};

#[test]
fn table_equals_the_formula_at_chosen_positions() {
    let (max_len, d_model) = (50, 16);
    let table = sinusoid_table(max_len, d_model);
    // (t, i): PE(t, 2i) = sin(t / 10000^(2i/16)), PE(t, 2i+1) = cos(the same angle).
    for (t, i) in [(0, 0), (1, 0), (7, 3), (49, 7), (20, 5)] {
        let angle = t as f64 / 10000f64.powf(2.0 * i as f64 / d_model as f64);
        let sin = table[t * d_model + 2 * i] as f64;
        let cos = table[t * d_model + 2 * i + 1] as f64;
        assert!(
            (sin - angle.sin()).abs() < 1e-6,
            "PE({t}, {}) = {sin}",
            2 * i
        );
        assert!(
            (cos - angle.cos()).abs() < 1e-6,
            "PE({t}, {}) = {cos}",
            2 * i + 1
        );
    }
    // Worked by hand: position 1, column 0 is sin(1); column 1 is cos(1); position 0 is
    // sin(0) = 0 on even and cos(0) = 1 on odd columns.
    assert!((table[d_model] - 0.841_470_96).abs() < 1e-6);
    assert!((table[d_model + 1] - 0.540_302_3).abs() < 1e-6);
    for (column, value) in table[..d_model].iter().enumerate() {
        let expected = if column % 2 == 0 { 0.0 } else { 1.0 };
        assert_eq!(*value, expected, "PE(0, {column})");
    }
    assert!(table.iter().all(|v| (-1.0..=1.0).contains(v)));
}

#[test]
fn module_adds_the_table_to_its_input() {
    let device = device();
    let (max_len, d_model, len) = (10, 8, 4);
    let encoding = PositionalEncodingConfig::new(d_model)
        .with_max_len(max_len)
        .with_dropout(0.0)
        .init(&device);
    let zeros = tensor(vec![0.0; 2 * len * d_model], [2, len, d_model], &device);
    let out = encoding.forward(zeros);
    let table = sinusoid_table(max_len, d_model);
    let expected: Vec<f32> = [&table[..len * d_model], &table[..len * d_model]].concat();
    let got = values(out.clone());
    assert_eq!(got.len(), expected.len());
    let expected = tensor(expected, [2, len, d_model], &device);
    assert!(max_abs_diff(out, expected) < 1e-7);
}

#[test]
#[should_panic(expected = "exceeds the model's max_len")]
fn longer_than_max_len_is_refused() {
    let device = device();
    let encoding = PositionalEncodingConfig::new(8)
        .with_max_len(4)
        .with_dropout(0.0)
        .init(&device);
    encoding.forward(tensor(vec![0.0; 5 * 8], [1, 5, 8], &device));
}

/// Extended to more positions (as translation extends a trained model), the encoding keeps
/// its first rows, follows the formula past them, and reads the sequence it refused before.
#[test]
fn extended_to_more_positions_it_follows_the_formula() {
    let device = device();
    let (max_len, longer, d_model) = (4, 12, 8);
    let encoding = PositionalEncodingConfig::new(d_model)
        .with_max_len(max_len)
        .with_dropout(0.0)
        .init(&device);
    let short = values(encoding.table.clone());
    let extended = encoding.with_max_len(longer);
    assert_eq!(extended.table.dims(), [longer, d_model]);
    let table = values(extended.table.clone());
    assert_eq!(table[..max_len * d_model], short[..]);
    // Worked by hand: position 10, columns 0 and 1 are sin(10) and cos(10); columns 2 and 3
    // have the angle 10 / 10000^(2/8) = 1.
    let row = &table[10 * d_model..11 * d_model];
    assert!((row[0] - -0.544_021_1).abs() < 1e-6, "{row:?}");
    assert!((row[1] - -0.839_071_5).abs() < 1e-6, "{row:?}");
    assert!((row[2] - 0.841_470_96).abs() < 1e-6, "{row:?}");
    assert!((row[3] - 0.540_302_3).abs() < 1e-6, "{row:?}");
    let zeros = tensor(vec![0.0; 5 * d_model], [1, 5, d_model], &device);
    let out = values(extended.forward(zeros));
    assert_eq!(out[..], table[..5 * d_model]);
}
