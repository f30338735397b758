using System.IO.Compression;
using System.Text;

namespace OpenQwen2VL.Tests.Checkpoints;

/// <summary>
/// Writes small files in torch.save's zip layout (archive/data.pkl with protocol-2 opcodes as torch emits them,
/// archive/data/KEY storages) so the reader can be tested on views torch produces: storage offsets, strides,
/// shared storages, several dtypes, OrderedDicts with BUILD state. A test aid only: nothing in the product writes .pt.
/// </summary>
internal sealed class TorchSaveTestArchive
{
    public sealed record TestStorage(string Key, string StorageClass, long ElementCount, byte[] Bytes);
    public sealed record View(TestStorage Storage, long Offset, long[] Shape, long[] Stride);

    private readonly MemoryStream _pkl = new();
    private readonly Dictionary<string, TestStorage> _storages = new();
    private bool _rebuildMemoized;

    private void Op(byte b) => _pkl.WriteByte(b);
    private void Op(char c) => _pkl.WriteByte((byte)c);

    private void Str(string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        Op('X');
        _pkl.Write(BitConverter.GetBytes(b.Length));
        _pkl.Write(b);
    }

    private void Int(long v)
    {
        if (v is >= 0 and < 256) { Op('K'); Op((byte)v); }
        else if (v is >= 0 and < 65536) { Op('M'); _pkl.Write(BitConverter.GetBytes((ushort)v)); }
        else { Op('J'); _pkl.Write(BitConverter.GetBytes(checked((int)v))); }
    }

    private void Global(string module, string name) => _pkl.Write(Encoding.ASCII.GetBytes($"c{module}\n{name}\n"));

    private void Tuple(long[] xs)
    {
        if (xs.Length == 0) { Op(')'); return; }
        Op('(');
        foreach (var x in xs) Int(x);
        Op('t');
    }

    private void Tensor(View v)
    {
        _storages[v.Storage.Key] = v.Storage;
        // torch.save memoizes the rebuild function and refers back to it (BINPUT / BINGET).
        if (_rebuildMemoized) { Op('h'); Op(1); }
        else { Global("torch._utils", "_rebuild_tensor_v2"); Op('q'); Op(1); _rebuildMemoized = true; }
        Op('(');
        Op('('); Str("storage"); Global("torch", v.Storage.StorageClass); Str(v.Storage.Key); Str("cpu"); Int(v.Storage.ElementCount); Op('t');
        Op('Q');
        Int(v.Offset); Tuple(v.Shape); Tuple(v.Stride); Op(0x89);
        Global("collections", "OrderedDict"); Op(')'); Op('R');
        Op('t');
        Op('R');
    }

    /// <summary>An OrderedDict of tensors, with the `_metadata` BUILD state a module state_dict carries.</summary>
    private void StateDict(IReadOnlyList<(string Name, View View)> tensors)
    {
        Global("collections", "OrderedDict"); Op(')'); Op('R');
        Op('(');
        foreach (var (name, v) in tensors) { Str(name); Tensor(v); }
        Op('u');
        Op('}'); Op('('); Str("_metadata"); Op('}'); Op('u'); Op('b');
    }

    /// <summary>
    /// {"model": {"projector": OrderedDict, "llm_backbone": OrderedDict}} as Open-Qwen2VL saves it; with
    /// <paramref name="vision"/>, also the "vision_backbone" entry a run that trained its tower writes.
    /// </summary>
    public void PrismaticRoot(IReadOnlyList<(string, View)> projector, IReadOnlyList<(string, View)> llm, IReadOnlyList<(string, View)>? vision = null)
    {
        Op(0x80); Op(2);
        Op('}'); Op('q'); Op(0);
        Str("model");
        Op('}');
        Op('(');
        Str("projector"); StateDict(projector);
        Str("llm_backbone"); StateDict(llm);
        if (vision is not null) { Str("vision_backbone"); StateDict(vision); }
        Op('u');
        Op('s');
        Op('.');
    }

    /// <summary>A contiguous float32 view of fresh storage holding <paramref name="values"/>.</summary>
    public static View Float32(string key, float[] values, long[] shape)
    {
        var bytes = new byte[values.Length * 4];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        var stride = new long[shape.Length];
        long s = 1;
        for (int d = shape.Length - 1; d >= 0; d--) { stride[d] = s; s *= shape[d]; }
        return new View(new TestStorage(key, "FloatStorage", values.Length, bytes), 0, shape, stride);
    }

    public void Save(string path, string archiveName = "archive", CompressionLevel level = CompressionLevel.NoCompression)
    {
        using var fs = File.Create(path);
        using var zip = new ZipArchive(fs, ZipArchiveMode.Create);
        void Entry(string name, byte[] data)
        {
            using var s = zip.CreateEntry($"{archiveName}/{name}", level).Open();
            s.Write(data);
        }
        Entry("data.pkl", _pkl.ToArray());
        Entry("byteorder", Encoding.ASCII.GetBytes("little"));
        foreach (var s in _storages.Values) Entry($"data/{s.Key}", s.Bytes);
        Entry("version", Encoding.ASCII.GetBytes("3\n"));
    }
}
