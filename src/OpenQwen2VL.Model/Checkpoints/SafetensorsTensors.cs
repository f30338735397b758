using OpenQwen2VL.Data.Formats;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Checkpoints;

/// <summary>Safetensors dtype names to TorchSharp scalar types and back; tensor creation from mapped bytes.</summary>
public static class SafetensorsTensors
{
    public static ScalarType ToScalarType(string dtype) =>
        TryToScalarType(dtype) ?? throw new InvalidDataException($"unsupported safetensors dtype {dtype}");

    /// <summary>The scalar type of a dtype this loader reads (the format also defines U16/U32/U64 and F8 ones, libtorch's build here does not).</summary>
    public static ScalarType? TryToScalarType(string dtype) => dtype switch
    {
        "F64" => ScalarType.Float64,
        "F32" => ScalarType.Float32,
        "F16" => ScalarType.Float16,
        "BF16" => ScalarType.BFloat16,
        "I64" => ScalarType.Int64,
        "I32" => ScalarType.Int32,
        "I16" => ScalarType.Int16,
        "I8" => ScalarType.Int8,
        "U8" => ScalarType.Byte,
        "BOOL" => ScalarType.Bool,
        _ => null,
    };

    public static string ToDType(ScalarType t) => t switch
    {
        ScalarType.Float64 => "F64",
        ScalarType.Float32 => "F32",
        ScalarType.Float16 => "F16",
        ScalarType.BFloat16 => "BF16",
        ScalarType.Int64 => "I64",
        ScalarType.Int32 => "I32",
        ScalarType.Int16 => "I16",
        ScalarType.Int8 => "I8",
        ScalarType.Byte => "U8",
        ScalarType.Bool => "BOOL",
        _ => throw new NotSupportedException($"no safetensors dtype for {t}"),
    };

    /// <summary>Floating element types: the ones a requested checkpoint dtype converts (integers keep theirs).</summary>
    public static bool IsFloating(ScalarType t) => t is ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float32 or ScalarType.Float64;

    /// <summary>
    /// A CPU tensor holding a copy of one entry (stored dtype), optionally converted. Only this one
    /// tensor is materialised, so loading a checkpoint never holds two full copies.
    /// </summary>
    public static unsafe Tensor Read(SafetensorsFile file, SafetensorsEntry e, ScalarType? dtype = null, Device? device = null)
    {
        var t = empty(e.Shape, ToScalarType(e.DType));
        if (e.ByteLength > 0)
        {
            // Copy straight from the mapping into the tensor's storage (one tensor < 2 GiB).
            t.bytes = new Span<byte>(file.Pointer(e), checked((int)e.ByteLength));
        }
        if ((dtype is null || dtype == t.dtype) && (device is null || device.type == DeviceType.CPU)) return t;
        var converted = t.to(dtype ?? t.dtype, device ?? CPU);
        t.Dispose();
        return converted;
    }

    public static Tensor Read(SafetensorsFile file, string name, ScalarType? dtype = null, Device? device = null) =>
        Read(file, file[name], dtype, device);
}
