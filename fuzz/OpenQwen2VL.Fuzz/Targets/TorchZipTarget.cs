using System.IO.Compression;
using System.Text;
using OpenQwen2VL.Data.Formats;

namespace OpenQwen2VL.Fuzz.Targets;

/// <summary>A torch.save zip archive: the zip directory, data.pkl, storages, every tensor's bytes read as a checkpoint loader reads them.</summary>
public sealed class TorchZipTarget : IFuzzTarget
{
    public string Name => "torch-zip";
    public string Description => "torch.save zip archive (.pt): zip entries, data.pkl, storage sizes, tensor views and bytes";

    public void Run(ReadOnlySpan<byte> input, FuzzScratch scratch)
    {
        string path = scratch.Write("checkpoint.pt", input);
        ExpectedRefusal.Guard(() =>
        {
            using var archive = TorchSaveArchive.Open(path);
            foreach (var tensor in TensorsIn(archive.Root, depth: 0))
            {
                if (tensor.Validate() is { } problem) throw new InvariantBrokenException($"a view the archive accepted is invalid: {problem}");
                long es = SafetensorsEntry.ElementSize(tensor.Storage.DType);
                long bytes = Math.Min((tensor.StorageExtent - tensor.StorageOffset) * es, 1 << 20);
                archive.ReadStorage(tensor.Storage, tensor.StorageOffset * es, bytes, (_, chunk) => { if (chunk.Length > 4 << 20) throw new InvariantBrokenException("a chunk over 4 MiB"); });
            }
        });
    }

    private static IEnumerable<TorchTensorRef> TensorsIn(object? node, int depth)
    {
        if (depth > 64) yield break;
        switch (node)
        {
            case TorchTensorRef t: yield return t; break;
            case Dictionary<object, object?> d:
                foreach (var v in d.Values) foreach (var t in TensorsIn(v, depth + 1)) yield return t;
                break;
            case System.Collections.IEnumerable list and not string:
                foreach (var v in list) foreach (var t in TensorsIn(v, depth + 1)) yield return t;
                break;
        }
    }

    public IEnumerable<(string Name, byte[] Data)> Seeds(FuzzEnvironment env)
    {
        using var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        {
            void Add(string name, byte[] data)
            {
                using var s = zip.CreateEntry("archive/" + name, CompressionLevel.NoCompression).Open();
                s.Write(data);
            }
            Add("data.pkl", HandmadePickle());
            Add("byteorder", Encoding.ASCII.GetBytes("little"));
            Add("data/0", new byte[24]);
            Add("version", Encoding.ASCII.GetBytes("3\n"));
        }
        yield return ("handmade.pt", ms.ToArray());
    }

    /// <summary>
    /// <c>torch.save({"w": torch.zeros(2, 3)})</c>'s data.pkl, written opcode by opcode (protocol 2): a dictionary whose
    /// value is _rebuild_tensor_v2(storage pid ('storage', FloatStorage, '0', 'cpu', 6), 0, (2, 3), (3, 1), False, OrderedDict()).
    /// </summary>
    public static byte[] HandmadePickle()
    {
        var b = new List<byte> { 0x80, 2, (byte)'}' };
        void Unicode(string s) { var u = Encoding.UTF8.GetBytes(s); b.Add((byte)'X'); b.AddRange(BitConverter.GetBytes(u.Length)); b.AddRange(u); }
        void Global(string module, string name) { b.Add((byte)'c'); b.AddRange(Encoding.ASCII.GetBytes($"{module}\n{name}\n")); }
        void Int1(byte v) { b.Add((byte)'K'); b.Add(v); }
        Unicode("w");
        Global("torch._utils", "_rebuild_tensor_v2");
        b.Add((byte)'(');
        b.Add((byte)'('); Unicode("storage"); Global("torch", "FloatStorage"); Unicode("0"); Unicode("cpu"); Int1(6); b.Add((byte)'t');
        b.Add((byte)'Q');
        Int1(0);
        Int1(2); Int1(3); b.Add(0x86);
        Int1(3); Int1(1); b.Add(0x86);
        b.Add(0x89);
        Global("collections", "OrderedDict"); b.Add((byte)')'); b.Add((byte)'R');
        b.Add((byte)'t');
        b.Add((byte)'R');
        b.Add((byte)'s');
        b.Add((byte)'.');
        return b.ToArray();
    }
}
