//! Druid string functions DataFusion lacks or defines differently: `CONCAT`/`TEXTCAT` (NULL
//! when any argument is NULL), `CONTAINS_STRING`, `ICONTAINS_STRING`, `STRING_FORMAT`
//! (Java's `String.format`), `PARSE_LONG` and `MV_TO_ARRAY`.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array, ListArray, StringBuilder};
use arrow::buffer::OffsetBuffer;
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field};
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};

use super::args::{invalid, invoke_on_arrays, is_integer_type, is_string_type, string_array};

/// The string functions, by their registered name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum StrFunc {
    /// `druid_concat(a, ...)`: the target of `CONCAT` and `TEXTCAT`.
    Concat,
    ContainsString,
    IContainsString,
    StringFormat,
    ParseLong,
    MvToArray,
}

impl StrFunc {
    const ALL: [StrFunc; 6] = [
        StrFunc::Concat,
        StrFunc::ContainsString,
        StrFunc::IContainsString,
        StrFunc::StringFormat,
        StrFunc::ParseLong,
        StrFunc::MvToArray,
    ];

    fn name(&self) -> &'static str {
        match self {
            StrFunc::Concat => "druid_concat",
            StrFunc::ContainsString => "contains_string",
            StrFunc::IContainsString => "icontains_string",
            StrFunc::StringFormat => "string_format",
            StrFunc::ParseLong => "parse_long",
            StrFunc::MvToArray => "mv_to_array",
        }
    }

    /// Minimum and maximum argument counts.
    fn arity(&self) -> (usize, usize) {
        match self {
            StrFunc::Concat | StrFunc::StringFormat => (1, usize::MAX),
            StrFunc::ContainsString | StrFunc::IContainsString => (2, 2),
            StrFunc::ParseLong => (1, 2),
            StrFunc::MvToArray => (1, 1),
        }
    }
}

fn list_of_strings() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
}

/// The string functions as UDFs.
pub fn string_functions() -> Vec<ScalarUDF> {
    StrFunc::ALL
        .iter()
        .map(|f| {
            ScalarUDF::from(DruidStringFunction {
                func: *f,
                signature: Signature::user_defined(Volatility::Immutable),
            })
        })
        .collect()
}

/// One Druid string function.
#[derive(Debug, PartialEq, Eq, Hash)]
struct DruidStringFunction {
    func: StrFunc,
    signature: Signature,
}

impl ScalarUDFImpl for DruidStringFunction {
    fn name(&self) -> &str {
        self.func.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.func {
            StrFunc::Concat | StrFunc::StringFormat => DataType::Utf8,
            StrFunc::ContainsString | StrFunc::IContainsString => DataType::Boolean,
            StrFunc::ParseLong => DataType::Int64,
            StrFunc::MvToArray => list_of_strings(),
        })
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let (min, max) = self.func.arity();
        let upper = match self.func {
            StrFunc::Concat => "CONCAT".to_string(),
            f => f.name().to_ascii_uppercase(),
        };
        if arg_types.len() < min || arg_types.len() > max {
            return plan_err!("Function [{upper}] does not accept {} arguments", arg_types.len());
        }
        arg_types
            .iter()
            .enumerate()
            .map(|(i, t)| match (self.func, i) {
                (StrFunc::ParseLong, 1) if is_integer_type(t) || t == &DataType::Null => Ok(DataType::Int64),
                (StrFunc::ParseLong, 1) => plan_err!("Function [{upper}] needs an integer radix, got [{t}]"),
                (StrFunc::MvToArray, _) => match t {
                    DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(_, _) => Ok(list_of_strings()),
                    _ => Ok(DataType::Utf8),
                },
                (StrFunc::StringFormat, i) if i > 0 => Ok(match t {
                    t if is_integer_type(t) => DataType::Int64,
                    t if t.is_floating() || matches!(t, DataType::Decimal128(_, _)) => DataType::Float64,
                    _ => DataType::Utf8,
                }),
                _ if is_string_type(t) => Ok(DataType::Utf8),
                _ => Ok(DataType::Utf8),
            })
            .collect()
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        invoke_on_arrays(&args, |arrays, len| evaluate(self.func, arrays, len))
    }
}

fn evaluate(func: StrFunc, a: &[ArrayRef], len: usize) -> Result<ArrayRef> {
    Ok(match func {
        StrFunc::Concat => {
            let parts = a.iter().map(string_array).collect::<Result<Vec<_>>>()?;
            let sizes = (0..len).map(|i| parts.iter().map(|p| p.value_length(i).max(0) as u64).sum::<u64>());
            super::size::check_output_sizes("druid_concat", sizes, len)?;
            let mut out = StringBuilder::with_capacity(len, len * 16);
            let mut buf = String::new();
            for i in 0..len {
                if parts.iter().any(|p| p.is_null(i)) {
                    out.append_null();
                    continue;
                }
                buf.clear();
                for p in &parts {
                    buf.push_str(p.value(i));
                }
                out.append_value(&buf);
            }
            Arc::new(out.finish())
        }
        StrFunc::ContainsString | StrFunc::IContainsString => {
            let (s, needle) = (string_array(&a[0])?, string_array(&a[1])?);
            let fold = func == StrFunc::IContainsString;
            let out: BooleanArray = (0..len)
                .map(|i| {
                    if s.is_null(i) || needle.is_null(i) {
                        None
                    } else if fold {
                        Some(s.value(i).to_lowercase().contains(&needle.value(i).to_lowercase()))
                    } else {
                        Some(s.value(i).contains(needle.value(i)))
                    }
                })
                .collect();
            Arc::new(out)
        }
        StrFunc::StringFormat => {
            let pattern = string_array(&a[0])?;
            let mut out = StringBuilder::with_capacity(len, len * 16);
            for i in 0..len {
                if pattern.is_null(i) {
                    out.append_null();
                    continue;
                }
                let values = a[1..]
                    .iter()
                    .map(|c| ScalarValue::try_from_array(c, i))
                    .collect::<Result<Vec<_>>>()?;
                out.append_value(java_format(pattern.value(i), &values).map_err(invalid)?);
            }
            Arc::new(out.finish())
        }
        StrFunc::ParseLong => {
            let s = string_array(&a[0])?;
            let radix = a.get(1).map(|r| cast(r, &DataType::Int64)).transpose()?;
            let radix = radix.as_ref().map(|r| r.as_primitive::<arrow::datatypes::Int64Type>());
            let out: Int64Array = (0..len)
                .map(|i| {
                    if s.is_null(i) {
                        return None;
                    }
                    let r = match radix {
                        None => 10,
                        Some(r) if r.is_null(i) => return None,
                        Some(r) => r.value(i),
                    };
                    parse_long(s.value(i), u32::try_from(r).ok()?)
                })
                .collect();
            Arc::new(out)
        }
        StrFunc::MvToArray => match a[0].data_type() {
            DataType::List(_) => a[0].clone(),
            _ => {
                let s = string_array(&a[0])?;
                let values: ArrayRef = Arc::new(s.clone());
                let offsets = OffsetBuffer::from_lengths((0..len).map(|i| usize::from(!s.is_null(i))));
                // Each row is the one-element array of its value; a NULL value is a NULL array.
                let nulls = s.nulls().cloned();
                let values = arrow::compute::filter(&values, &arrow::compute::is_not_null(&values)?)?;
                Arc::new(ListArray::try_new(
                    Arc::new(Field::new_list_field(DataType::Utf8, true)),
                    offsets,
                    values,
                    nulls,
                )?)
            }
        },
    })
}

/// Druid's `PARSE_LONG`: an integer in `radix` (2..=36); a `0x` prefix is allowed in base 16.
/// `None` when the text is not a number.
pub fn parse_long(s: &str, radix: u32) -> Option<i64> {
    if !(2..=36).contains(&radix) {
        return None;
    }
    let t = s.trim();
    let (neg, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let body = if radix == 16 {
        body.strip_prefix("0x")
            .or_else(|| body.strip_prefix("0X"))
            .unwrap_or(body)
    } else {
        body
    };
    if body.is_empty() {
        return None;
    }
    let v = i128::from_str_radix(body, radix).ok()?;
    i64::try_from(if neg { -v } else { v }).ok()
}

/// Formats like Java's `String.format` for the conversions Druid users write: `%s %S %d %x
/// %X %o %f %e %b %c %% %n` with flags `-+0, `, width, precision and `%1$s` argument indexes.
pub fn java_format(pattern: &str, args: &[ScalarValue]) -> std::result::Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut next_arg = 0usize;
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '%' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let (spec, next) = FormatSpec::parse(&chars, i + 1, pattern)?;
        i = next;
        let conv = spec.conversion;
        if conv == '%' {
            out.push('%');
            continue;
        }
        if conv == 'n' {
            out.push('\n');
            continue;
        }
        let k = match spec.index {
            Some(k) => k,
            None => {
                next_arg += 1;
                next_arg - 1
            }
        };
        let arg = args
            .get(k)
            .ok_or_else(|| format!("Format specifier '%{conv}' in [{pattern}] has no argument"))?;
        let body = format_one(conv, &spec.flags, spec.precision, arg)
            .ok_or_else(|| format!("Conversion '%{conv}' in [{pattern}] cannot format [{arg}]"))?;
        let width = spec.width(pattern)?;
        pad(&mut out, &body, width, &spec.flags, conv);
        if out.len() as u64 > super::size::MAX_VALUE_BYTES {
            return Err(format!(
                "The result of formatting [{pattern}] is larger than a value may be"
            ));
        }
    }
    Ok(out)
}

/// One `%[argument_index$][flags][width][.precision]conversion` of a format pattern.
struct FormatSpec {
    /// The 0-based argument index of `%n$`.
    index: Option<usize>,
    flags: String,
    /// The width as written (empty if none).
    width: String,
    precision: Option<usize>,
    conversion: char,
}

impl FormatSpec {
    /// Parses the specifier starting at `i` (right after `%`); returns it and the index after it.
    fn parse(chars: &[char], mut i: usize, pattern: &str) -> std::result::Result<(FormatSpec, usize), String> {
        let start = i;
        let mut index: Option<usize> = None;
        let mut j = i;
        while j < chars.len() && chars[j].is_ascii_digit() {
            j += 1;
        }
        if j < chars.len() && chars[j] == '$' && j > i {
            let n: usize = chars[i..j]
                .iter()
                .collect::<String>()
                .parse()
                .map_err(|_| "bad index")?;
            index = Some(n.checked_sub(1).ok_or("Illegal format argument index [0]")?);
            i = j + 1;
        }
        let mut flags = String::new();
        while i < chars.len() && "-+0, #".contains(chars[i]) {
            flags.push(chars[i]);
            i += 1;
        }
        let mut width = String::new();
        while i < chars.len() && chars[i].is_ascii_digit() {
            width.push(chars[i]);
            i += 1;
        }
        let mut precision: Option<usize> = None;
        if i < chars.len() && chars[i] == '.' {
            i += 1;
            let mut p = String::new();
            while i < chars.len() && chars[i].is_ascii_digit() {
                p.push(chars[i]);
                i += 1;
            }
            precision = Some(p.parse().map_err(|_| "bad precision")?);
        }
        if precision.unwrap_or(0) as u64 > super::size::MAX_VALUE_BYTES {
            return Err(format!("Format precision in [{pattern}] is larger than a value may be"));
        }
        let Some(&conversion) = chars.get(i) else {
            return Err(format!(
                "Format specifier '%{}' in [{pattern}] has no conversion",
                chars[start..].iter().collect::<String>()
            ));
        };
        let spec = FormatSpec {
            index,
            flags,
            width,
            precision,
            conversion,
        };
        Ok((spec, i + 1))
    }

    /// The minimum width (0 if none); a width larger than a value may be is an error.
    fn width(&self, pattern: &str) -> std::result::Result<usize, String> {
        let width = &self.width;
        Ok(match width.parse::<usize>() {
            Ok(w) if w as u64 <= super::size::MAX_VALUE_BYTES => w,
            Ok(_) | Err(_) if !width.is_empty() => {
                return Err(format!(
                    "Format width [{width}] in [{pattern}] is larger than a value may be"
                ))
            }
            _ => 0,
        })
    }
}

/// Appends `body` padded to `width`: left-justified with `-`, zero-padded after the sign with
/// `0` for numeric conversions, else right-justified with spaces.
fn pad(out: &mut String, body: &str, width: usize, flags: &str, conv: char) {
    let n = body.chars().count();
    if n >= width {
        out.push_str(body);
    } else if flags.contains('-') {
        out.push_str(body);
        out.extend(std::iter::repeat_n(' ', width - n));
    } else if flags.contains('0') && "dxXofe".contains(conv) {
        let (sign, digits) = match body.strip_prefix('-') {
            Some(d) => ("-", d),
            None => ("", body),
        };
        out.push_str(sign);
        out.extend(std::iter::repeat_n('0', width - n));
        out.push_str(digits);
    } else {
        out.extend(std::iter::repeat_n(' ', width - n));
        out.push_str(body);
    }
}

fn scalar_i64(v: &ScalarValue) -> Option<i64> {
    match v {
        ScalarValue::Int64(x) => *x,
        ScalarValue::Float64(x) => x.map(|f| f as i64),
        other => other.cast_to(&DataType::Int64).ok().and_then(|s| match s {
            ScalarValue::Int64(x) => x,
            _ => None,
        }),
    }
}

fn scalar_f64(v: &ScalarValue) -> Option<f64> {
    match v.cast_to(&DataType::Float64).ok()? {
        ScalarValue::Float64(x) => x,
        _ => None,
    }
}

/// One conversion; `None` when the argument does not suit it. NULL prints `null`.
fn format_one(conv: char, flags: &str, precision: Option<usize>, arg: &ScalarValue) -> Option<String> {
    if arg.is_null() {
        return Some(if conv == 'b' { "false".into() } else { "null".into() });
    }
    let grouped = |digits: String| -> String {
        if !flags.contains(',') {
            return digits;
        }
        let (sign, d) = match digits.strip_prefix('-') {
            Some(d) => ("-", d.to_string()),
            None => ("", digits.clone()),
        };
        let (int, frac) = match d.split_once('.') {
            Some((a, b)) => (a.to_string(), format!(".{b}")),
            None => (d, String::new()),
        };
        let mut g = String::new();
        for (k, c) in int.chars().enumerate() {
            if k > 0 && (int.len() - k).is_multiple_of(3) {
                g.push(',');
            }
            g.push(c);
        }
        format!("{sign}{g}{frac}")
    };
    let signed = |s: String| -> String {
        if flags.contains('+') && !s.starts_with('-') {
            format!("+{s}")
        } else if flags.contains(' ') && !s.starts_with('-') {
            format!(" {s}")
        } else {
            s
        }
    };
    Some(match conv {
        's' | 'S' => {
            let s = match arg {
                ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => {
                    s.clone()
                }
                ScalarValue::Float64(Some(f)) => java_double(*f),
                other => other.to_string(),
            };
            let s = match precision {
                Some(p) => s.chars().take(p).collect(),
                None => s,
            };
            if conv == 'S' {
                s.to_uppercase()
            } else {
                s
            }
        }
        'd' => signed(grouped(scalar_i64(arg)?.to_string())),
        'x' => format!("{:x}", scalar_i64(arg)?),
        'X' => format!("{:X}", scalar_i64(arg)?),
        'o' => format!("{:o}", scalar_i64(arg)?),
        'f' => signed(grouped(format!("{:.*}", precision.unwrap_or(6), scalar_f64(arg)?))),
        'e' => {
            let s = format!("{:.*e}", precision.unwrap_or(6), scalar_f64(arg)?);
            // Rust writes `1.5e2`, Java `1.500000e+02`.
            match s.split_once('e') {
                Some((m, e)) => {
                    let (sign, digits) = match e.strip_prefix('-') {
                        Some(d) => ('-', d),
                        None => ('+', e),
                    };
                    format!("{m}e{sign}{digits:0>2}")
                }
                None => s,
            }
        }
        'b' | 'B' => match arg {
            ScalarValue::Boolean(Some(b)) => b.to_string(),
            _ => "true".to_string(),
        },
        'c' => char::from_u32(u32::try_from(scalar_i64(arg)?).ok()?)?.to_string(),
        _ => return None,
    })
}

/// A double as Java's `Double.toString` writes ordinary values (`1.0`, `0.5`, `1.0E10`).
fn java_double(f: f64) -> String {
    if f.is_finite() && f == f.trunc() && f.abs() < 1e7 {
        format!("{f:.1}")
    } else if f.is_finite() && (f.abs() >= 1e7 || (f != 0.0 && f.abs() < 1e-3)) {
        let s = format!("{f:e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = if m.contains('.') {
            m.to_string()
        } else {
            format!("{m}.0")
        };
        format!("{m}E{e}")
    } else {
        f.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(p: &str, args: &[ScalarValue]) -> String {
        java_format(p, args).unwrap()
    }

    #[test]
    fn java_formats() {
        let s = |x: &str| ScalarValue::Utf8(Some(x.into()));
        let i = |x: i64| ScalarValue::Int64(Some(x));
        let f = |x: f64| ScalarValue::Float64(Some(x));
        assert_eq!(fmt("%s-%s", &[s("a"), s("b")]), "a-b");
        assert_eq!(fmt("%d%%", &[i(42)]), "42%");
        assert_eq!(fmt("%5d|%-5d|%05d", &[i(42), i(42), i(-42)]), "   42|42   |-0042");
        assert_eq!(fmt("%,d", &[i(1234567)]), "1,234,567");
        assert_eq!(fmt("%.2f", &[f(1.23456)]), "1.23");
        assert_eq!(fmt("%f", &[f(1.5)]), "1.500000");
        assert_eq!(fmt("%x %X %o", &[i(255), i(255), i(8)]), "ff FF 10");
        assert_eq!(fmt("%2$s %1$s", &[s("a"), s("b")]), "b a");
        assert_eq!(fmt("%s", &[ScalarValue::Utf8(None)]), "null");
        assert_eq!(fmt("%s", &[f(2.0)]), "2.0");
        assert_eq!(fmt("%.3e", &[f(1234.5)]), "1.234e+03");
        assert_eq!(fmt("%S", &[s("abc")]), "ABC");
        assert_eq!(fmt("%+d", &[i(5)]), "+5");
        assert!(java_format("%s %s", &[s("a")]).is_err());
        assert!(java_format("%q", &[s("a")]).is_err());
        assert!(java_format("abc %", &[]).is_err());
    }

    #[test]
    fn parse_longs() {
        assert_eq!(parse_long("123", 10), Some(123));
        assert_eq!(parse_long("-123", 10), Some(-123));
        assert_eq!(parse_long("ff", 16), Some(255));
        assert_eq!(parse_long("0xFF", 16), Some(255));
        assert_eq!(parse_long("101", 2), Some(5));
        assert_eq!(parse_long("12.5", 10), None);
        assert_eq!(parse_long("abc", 10), None);
        assert_eq!(parse_long("", 10), None);
        assert_eq!(parse_long("1", 99), None);
    }
}
