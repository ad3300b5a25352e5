//! word_freq: word frequencies and basic statistics of a text.
//!
//! Input `{"text": "...", "top": 5}`; output
//! `{"bytes", "characters", "words", "unique_words", "lines", "average_word_length",
//!   "top_words": [{"word", "count"}, …]}`. Words are maximal runs of alphanumeric
//! characters (Unicode), compared lower-cased; ties in `top_words` are broken
//! alphabetically so the result is deterministic.

use apflow_plugin::{host, Error, Result, Value};
use std::collections::HashMap;

const METADATA: &str = r#"{"id":"word_freq","name":"Word frequencies","description":"Word frequencies, counts and averages of a text","version":"1.0.0","tags":["text","example"]}"#;
const INPUT_SCHEMA: &str = r#"{"type":"object","properties":{"text":{"type":"string","description":"The text to analyse"},"top":{"type":"integer","minimum":0,"maximum":1000,"default":5,"description":"How many most frequent words to return"}},"required":["text"]}"#;
const OUTPUT_SCHEMA: &str = r#"{"type":"object","properties":{"bytes":{"type":"integer"},"characters":{"type":"integer"},"words":{"type":"integer"},"unique_words":{"type":"integer"},"lines":{"type":"integer"},"average_word_length":{"type":"number"},"top_words":{"type":"array","items":{"type":"object","properties":{"word":{"type":"string"},"count":{"type":"integer"}}}}},"required":["words","top_words"]}"#;

/// Computes the statistics of `text`, keeping the `top` most frequent words.
pub fn stats(text: &str, top: usize) -> Value {
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut words = 0u64;
    let mut letters = 0u64;
    for word in text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        words += 1;
        letters += word.chars().count() as u64;
        *counts.entry(word.to_lowercase()).or_insert(0) += 1;
    }
    let mut ranked: Vec<(&String, &u64)> = counts.iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let top_words: Vec<Value> = ranked
        .into_iter()
        .take(top)
        .map(|(w, c)| Value::object().with("word", w.as_str()).with("count", *c))
        .collect();
    let lines = if text.is_empty() { 0 } else { text.lines().count() };
    let average = if words == 0 { 0.0 } else { ((letters as f64 / words as f64) * 100.0).round() / 100.0 };
    Value::object()
        .with("bytes", text.len())
        .with("characters", text.chars().count())
        .with("words", words)
        .with("unique_words", counts.len())
        .with("lines", lines)
        .with("average_word_length", average)
        .with("top_words", Value::Array(top_words))
}

fn execute(input: Value) -> Result {
    let text = input
        .get("text")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::with_code("text must be a string", "invalid_inputs"))?;
    let top = match input.get("top") {
        None | Some(Value::Null) => 5,
        Some(v) => match v.as_i64() {
            Some(n) if (0..=1000).contains(&n) => n as usize,
            _ => return Err(Error::with_code("top must be an integer in 0..1000", "invalid_inputs")),
        },
    };
    host::info(&format!("word_freq: analysing {} bytes", text.len()));
    let out = stats(text, top);
    host::progress(1.0);
    Ok(out)
}

apflow_plugin::plugin! {
    metadata: METADATA,
    input_schema: INPUT_SCHEMA,
    output_schema: OUTPUT_SCHEMA,
    execute: execute,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_words_and_ranks_them() {
        let v = stats("The cat and the hat.\nThe END", 2);
        assert_eq!(v.get("words").and_then(Value::as_i64), Some(7));
        assert_eq!(v.get("unique_words").and_then(Value::as_i64), Some(5));
        assert_eq!(v.get("lines").and_then(Value::as_i64), Some(2));
        assert_eq!(
            v.get("top_words").map(Value::to_json).as_deref(),
            Some(r#"[{"word":"the","count":3},{"word":"and","count":1}]"#)
        );
    }

    #[test]
    fn rejects_bad_input() {
        assert!(execute(Value::object()).is_err());
        assert!(execute(Value::object().with("text", "x").with("top", -1)).is_err());
        assert!(execute(Value::object().with("text", "")).is_ok());
    }
}
