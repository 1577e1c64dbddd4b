//! Arrow record batches in and out of Python through the Arrow C data
//! interface (pyarrow's `__arrow_c_array__` PyCapsules): no copy of the
//! columns, no JSON text between Python and Rust.
//!
//! Owns: importing a batch, exporting one, and reading a row of identity
//! columns (`id`, `kind`, `owner`, `attributes`, `assignments`, or one JSON
//! `record` column) as the JSON value a record is. Never evaluates anything.

use std::ffi::CString;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::ffi::{from_ffi, FFI_ArrowArray, FFI_ArrowSchema};
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, RecordBatch, StructArray};
use arrow_schema::DataType;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyCapsule;
use serde_json::{Map, Value};

/// Imports any object exporting `__arrow_c_array__` (a pyarrow RecordBatch) as a record batch.
pub fn import(batch: &Bound<'_, PyAny>) -> PyResult<RecordBatch> {
    if !batch.hasattr("__arrow_c_array__")? {
        return Err(PyTypeError::new_err(
            "expected an Arrow record batch (an object with `__arrow_c_array__`, such as a pyarrow.RecordBatch)",
        ));
    }
    let pair = batch.call_method0("__arrow_c_array__")?;
    let (schema, array): (Bound<'_, PyCapsule>, Bound<'_, PyCapsule>) = pair.extract()?;
    let schema_ptr = capsule_pointer(&schema, c"arrow_schema")? as *const FFI_ArrowSchema;
    let array_ptr = capsule_pointer(&array, c"arrow_array")? as *mut FFI_ArrowArray;
    // SAFETY: the capsules hold an ArrowSchema and an ArrowArray by the C data interface's contract
    // (their names were checked); the array is moved out, leaving a released one for the capsule to drop.
    let data = unsafe {
        let array = FFI_ArrowArray::from_raw(array_ptr);
        from_ffi(array, &*schema_ptr)
    }
    .map_err(|e| PyValueError::new_err(format!("the Arrow batch cannot be read: {e}")))?;
    let data_type = data.data_type().clone();
    match data_type {
        DataType::Struct(_) => Ok(RecordBatch::from(StructArray::from(data))),
        other => Err(PyTypeError::new_err(format!(
            "expected an Arrow record batch, got an array of `{other}`"
        ))),
    }
}

fn capsule_pointer(capsule: &Bound<'_, PyCapsule>, name: &std::ffi::CStr) -> PyResult<*mut std::ffi::c_void> {
    let given = capsule.name()?;
    // SAFETY: a capsule's name, when set, is a NUL-terminated string it owns.
    let given = given.map(|n| unsafe { n.as_cstr() });
    if given != Some(name) {
        return Err(PyValueError::new_err(format!(
            "expected an Arrow PyCapsule named `{}`",
            name.to_string_lossy()
        )));
    }
    Ok(capsule.pointer_checked(Some(name))?.as_ptr())
}

/// Exports a record batch as a pyarrow.RecordBatch.
pub fn export<'py>(py: Python<'py>, batch: RecordBatch) -> PyResult<Bound<'py, PyAny>> {
    let array = StructArray::from(batch);
    let data = array.to_data();
    let schema = FFI_ArrowSchema::try_from(data.data_type())
        .map_err(|e| PyValueError::new_err(format!("the Arrow schema cannot be exported: {e}")))?;
    let array = FFI_ArrowArray::new(&data);
    let schema = PyCapsule::new(py, schema, Some(CString::from(c"arrow_schema")))?;
    let array = PyCapsule::new(py, array, Some(CString::from(c"arrow_array")))?;
    let pyarrow = py.import("pyarrow")?;
    pyarrow
        .getattr("RecordBatch")?
        .call_method1("_import_from_c_capsule", (schema, array))
}

/// The string column `name`, when the batch has one (any of Arrow's three string layouts).
pub fn strings(batch: &RecordBatch, name: &str) -> PyResult<Option<Vec<Option<String>>>> {
    let Some(column) = batch.column_by_name(name) else {
        return Ok(None);
    };
    let at = |row| text(column.as_ref(), row);
    (0..batch.num_rows())
        .map(|row| match at(row) {
            Some(Some(s)) => Ok(Some(s)),
            Some(None) => Ok(None),
            None => Err(PyTypeError::new_err(format!(
                "column `{name}` should hold strings, not `{}`",
                column.data_type()
            ))),
        })
        .collect::<PyResult<_>>()
        .map(Some)
}

/// The string at `row`: `None` when the column holds no strings, `Some(None)` for a null.
fn text(column: &dyn Array, row: usize) -> Option<Option<String>> {
    let valid = column.is_valid(row);
    let value = match column.data_type() {
        DataType::Utf8 => column.as_string::<i32>().value(row).to_string(),
        DataType::LargeUtf8 => column.as_string::<i64>().value(row).to_string(),
        DataType::Utf8View => column.as_string_view().value(row).to_string(),
        _ => return None,
    };
    Some(valid.then_some(value))
}

/// Each row of the batch as an identity record: the JSON text of a `record`
/// column, or the columns as the record's fields (nulls are absent fields).
/// A row that is no record is an error message for that row.
pub fn records(batch: &RecordBatch) -> PyResult<Vec<Result<Value, String>>> {
    if let Some(texts) = strings(batch, "record")? {
        return Ok(texts
            .into_iter()
            .map(|text| match text {
                None => Err("the record is null".to_string()),
                Some(text) => serde_json::from_str(&text).map_err(|e| format!("the record is not JSON: {e}")),
            })
            .collect());
    }
    let schema = batch.schema();
    let columns: Vec<(&str, &ArrayRef)> = schema.fields().iter().map(|f| f.name().as_str()).zip(batch.columns()).collect();
    (0..batch.num_rows())
        .map(|row| {
            let mut object = Map::new();
            for (name, column) in &columns {
                if let Some(value) = value(column.as_ref(), row).map_err(PyTypeError::new_err)? {
                    object.insert((*name).to_string(), value);
                }
            }
            Ok(Ok(Value::Object(object)))
        })
        .collect()
}

/// The JSON text of each row's record (see [`records`]); a row that is no
/// record stays its text (the reader reports it, as `entitle plan` does).
pub fn record_lines(batch: &RecordBatch) -> PyResult<Vec<String>> {
    if let Some(texts) = strings(batch, "record")? {
        return Ok(texts.into_iter().map(Option::unwrap_or_default).collect());
    }
    Ok(records(batch)?
        .into_iter()
        .map(|r| r.map(|v| v.to_string()).unwrap_or_default())
        .collect())
}

/// The value at `row` as JSON; `None` for a null.
fn value(column: &dyn Array, row: usize) -> Result<Option<Value>, String> {
    if column.is_null(row) {
        return Ok(None);
    }
    if let Some(Some(s)) = text(column, row) {
        return Ok(Some(Value::String(s)));
    }
    macro_rules! number {
        ($t:ty) => {
            Value::from(column.as_primitive::<$t>().value(row))
        };
    }
    let v = match column.data_type() {
        DataType::Null => return Ok(None),
        DataType::Boolean => Value::Bool(column.as_boolean().value(row)),
        DataType::Int8 => number!(Int8Type),
        DataType::Int16 => number!(Int16Type),
        DataType::Int32 => number!(Int32Type),
        DataType::Int64 => number!(Int64Type),
        DataType::UInt8 => number!(UInt8Type),
        DataType::UInt16 => number!(UInt16Type),
        DataType::UInt32 => number!(UInt32Type),
        DataType::UInt64 => number!(UInt64Type),
        DataType::Float32 => number!(Float32Type),
        DataType::Float64 => number!(Float64Type),
        DataType::List(_) => list(column.as_list::<i32>().value(row).as_ref())?,
        DataType::LargeList(_) => list(column.as_list::<i64>().value(row).as_ref())?,
        DataType::Struct(fields) => {
            let s = column.as_struct();
            let mut object = Map::new();
            for (field, child) in fields.iter().zip(s.columns()) {
                if let Some(v) = value(child.as_ref(), row)? {
                    object.insert(field.name().clone(), v);
                }
            }
            Value::Object(object)
        }
        DataType::Map(_, _) => {
            let entries = column.as_map().value(row);
            let mut object = Map::new();
            for i in 0..entries.len() {
                let key = match text(entries.column(0).as_ref(), i) {
                    Some(Some(k)) => k,
                    _ => return Err("map keys should be strings".to_string()),
                };
                if let Some(v) = value(entries.column(1).as_ref(), i)? {
                    object.insert(key, v);
                }
            }
            Value::Object(object)
        }
        other => return Err(format!("an identity record has no values of type `{other}`")),
    };
    Ok(Some(v))
}

fn list(items: &dyn Array) -> Result<Value, String> {
    (0..items.len())
        .map(|i| value(items, i).map(|v| v.unwrap_or(Value::Null)))
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

/// A column of an output batch: nullable strings, or lists of strings.
pub enum Column {
    /// Strings, nullable.
    Text(Vec<Option<String>>),
    /// Lists of strings.
    Lists(Vec<Vec<String>>),
}

/// A record batch of `columns`, in order.
pub fn batch(columns: Vec<(&str, Column)>) -> PyResult<RecordBatch> {
    use arrow_array::builder::{ListBuilder, StringBuilder};
    use arrow_array::StringArray;
    let arrays: Vec<(String, ArrayRef)> = columns
        .into_iter()
        .map(|(name, column)| {
            let array: ArrayRef = match column {
                Column::Text(values) => Arc::new(StringArray::from(values)),
                Column::Lists(values) => {
                    let mut builder = ListBuilder::new(StringBuilder::new());
                    for items in values {
                        for item in items {
                            builder.values().append_value(item);
                        }
                        builder.append(true);
                    }
                    Arc::new(builder.finish())
                }
            };
            (name.to_string(), array)
        })
        .collect();
    RecordBatch::try_from_iter(arrays).map_err(|e| PyValueError::new_err(e.to_string()))
}
