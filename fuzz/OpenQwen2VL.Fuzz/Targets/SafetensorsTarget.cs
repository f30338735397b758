using OpenQwen2VL.Data.Formats;

namespace OpenQwen2VL.Fuzz.Targets;

/// <summary>A safetensors file: header length, JSON header, every tensor's bytes (each one touched, so a read outside the mapping faults).</summary>
public sealed class SafetensorsTarget : IFuzzTarget
{
    public string Name => "safetensors";
    public string Description => "safetensors file (header length, JSON header, offsets), every tensor's bytes read";

    public void Run(ReadOnlySpan<byte> input, FuzzScratch scratch)
    {
        string path = scratch.Write("model.safetensors", input);
        ExpectedRefusal.Guard(() =>
        {
            using var file = SafetensorsFile.Open(path);
            foreach (var (k, v) in file.Metadata) _ = k.Length + v.Length;
            long dataStart = file.FileLength - file.Entries.Sum(e => e.ByteLength);
            foreach (var e in file.Entries)
            {
                if (e.Offset < 8 || e.Offset + e.ByteLength > file.FileLength || e.ByteLength != e.ElementCount * SafetensorsEntry.ElementSize(e.DType))
                    throw new InvariantBrokenException($"entry {e.Name} accepted outside the file or with a wrong size: offset {e.Offset}, {e.ByteLength} bytes, file {file.FileLength}");
                var bytes = file.Bytes(e);
                int sum = 0;
                foreach (byte b in bytes) sum += b;
                _ = sum + dataStart;
            }
        });
    }

    public IEnumerable<(string Name, byte[] Data)> Seeds(FuzzEnvironment env)
    {
        using var scratch = new FuzzScratch();
        string path = Path.Combine(scratch.Folder, "seed.safetensors");
        SafetensorsWriter.Write(path,
        [
            SafetensorsTensorSource.FromBytes("a.weight", "F32", [2, 3], new byte[24]),
            SafetensorsTensorSource.FromBytes("b.bias", "BF16", [4], [1, 2, 3, 4, 5, 6, 7, 8]),
            SafetensorsTensorSource.FromBytes("empty", "I64", [0, 5], []),
        ], SafetensorsWriter.PtMetadata);
        yield return ("written.safetensors", File.ReadAllBytes(path));
        yield return ("projector.safetensors", File.ReadAllBytes(env.Reference("projector.safetensors")));
    }
}
