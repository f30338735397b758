using System.Text;
using System.Text.Json;
using OpenQwen2VL.Model.Checkpoints;
using static TorchSharp.torch;

namespace OpenQwen2VL.Training.Checkpoints;

/// <summary>
/// Minimal safetensors writer: 8-byte little-endian header length, JSON header (sorted names, padded to 8
/// bytes), raw contiguous little-endian data. Written to a temp file and renamed.
/// TODO-for-merge: replace with the checkpoints branch's writer (OpenQwen2VL.Model.Checkpoints) once merged.
/// </summary>
public static class SafetensorsWriter
{
    public static void Write(string path, IEnumerable<(string Name, Tensor Tensor)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.OrderBy(t => t.Name, StringComparer.Ordinal).ToList();
        var header = new Dictionary<string, object>();
        if (metadata is { Count: > 0 }) header["__metadata__"] = metadata;
        long offset = 0;
        var sizes = new List<long>();
        foreach (var (name, t) in list)
        {
            long bytes = t.numel() * t.ElementSize;
            header[name] = new { dtype = SafetensorsTensors.ToDType(t.dtype), shape = t.shape, data_offsets = new[] { offset, offset + bytes } };
            sizes.Add(bytes);
            offset += bytes;
        }
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        int padded = (json.Length + 7) / 8 * 8;
        string tmp = path + ".tmp";
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            fs.Write(BitConverter.GetBytes((long)padded));
            fs.Write(json);
            for (int i = json.Length; i < padded; i++) fs.WriteByte((byte)' ');
            foreach (var (_, t) in list)
            {
                using var cpu = t.detach().to(CPU).contiguous();
                fs.Write(cpu.bytes);
            }
            fs.Flush(true);
        }
        File.Move(tmp, path, overwrite: true);
    }
}
