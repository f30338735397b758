using System.IO.Compression;

namespace OpenQwen2VL.Data.Formats;

/// <summary>A storage record of a torch.save archive: file <c>data/Key</c>, element dtype (safetensors name) and size.</summary>
public sealed record TorchStorageRef(string Key, string DType, long ElementCount)
{
    public long ByteLength => ElementCount * SafetensorsEntry.ElementSize(DType);
}

/// <summary>A tensor of a torch.save archive: a strided view into a storage (torch._utils._rebuild_tensor_v2).</summary>
public sealed record TorchTensorRef(TorchStorageRef Storage, long StorageOffset, long[] Shape, long[] Stride)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>True when the view is the row-major layout of its elements (it may still start at an offset).</summary>
    public bool IsContiguous
    {
        get
        {
            long expected = 1;
            for (int i = Shape.Length - 1; i >= 0; i--)
            {
                if (Shape[i] != 1 && Stride[i] != expected) return false;
                expected *= Shape[i];
            }
            return true;
        }
    }

    /// <summary>Elements of the storage the view reaches, from the storage start (offset + furthest index + 1).</summary>
    public long StorageExtent => ElementCount == 0 ? StorageOffset : StorageOffset + Shape.Zip(Stride, (n, s) => (n - 1) * s).Sum() + 1;
}

/// <summary>
/// Reader of the zip container that <c>torch.save</c> writes (PyTorch ≥ 1.6): <c>&lt;name&gt;/data.pkl</c> is a pickle
/// whose tensors refer by persistent id to raw little-endian storages <c>&lt;name&gt;/data/&lt;key&gt;</c>. The pickle is
/// decoded with <see cref="PickleReader"/> into dictionaries, lists and <see cref="TorchTensorRef"/>s; storage bytes are
/// read on demand, one storage at a time, straight from the (normally uncompressed) zip entry.
/// </summary>
public sealed class TorchSaveArchive : IDisposable
{
    private readonly ZipArchive _zip;
    private readonly string _prefix;

    public string Path { get; }
    /// <summary>The unpickled object (for a checkpoint: nested dictionaries of tensors).</summary>
    public object? Root { get; }

    private TorchSaveArchive(string path)
    {
        Path = path;
        var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        try
        {
            _zip = new ZipArchive(fs, ZipArchiveMode.Read, leaveOpen: false);
        }
        catch (InvalidDataException e)
        {
            fs.Dispose();
            throw new InvalidDataException($"{path}: not a zip-format torch.save file (legacy pre-1.6 format is not supported)", e);
        }
        var pkl = _zip.Entries.FirstOrDefault(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) || e.FullName == "data.pkl")
            ?? throw new InvalidDataException($"{path}: no data.pkl in the archive");
        _prefix = pkl.FullName[..^"data.pkl".Length];
        var order = _zip.GetEntry(_prefix + "byteorder");
        if (order is not null)
        {
            using var r = new StreamReader(order.Open());
            var bo = r.ReadToEnd().Trim();
            if (bo != "little") throw new InvalidDataException($"{path}: byteorder {bo} is not supported");
        }
        byte[] bytes;
        using (var s = pkl.Open())
        using (var ms = new MemoryStream())
        {
            s.CopyTo(ms);
            bytes = ms.ToArray();
        }
        var storages = new Dictionary<string, TorchStorageRef>(StringComparer.Ordinal);
        Root = PickleReader.Load(bytes, pid => PersistentLoad(pid, storages), Construct);
    }

    public static TorchSaveArchive Open(string path) => new(path);

    private TorchStorageRef PersistentLoad(object? pid, Dictionary<string, TorchStorageRef> storages)
    {
        // ('storage', <class torch.XStorage>, key, location, numel)
        if (pid is not object?[] { Length: 5 } t || t[0] is not "storage" || t[1] is not PickleGlobal type || t[2] is not string key || t[4] is not long numel)
            throw new InvalidDataException($"{Path}: unexpected persistent id {Describe(pid)}");
        if (storages.TryGetValue(key, out var known)) return known;
        var dtype = StorageDType(type.Name) ?? throw new InvalidDataException($"{Path}: unsupported storage type {type}");
        var entry = _zip.GetEntry(_prefix + "data/" + key) ?? throw new InvalidDataException($"{Path}: storage data/{key} is missing");
        var s = new TorchStorageRef(key, dtype, numel);
        if (entry.Length != s.ByteLength) throw new InvalidDataException($"{Path}: storage data/{key} has {entry.Length} bytes, expected {s.ByteLength}");
        storages[key] = s;
        return s;
    }

    private static object? Construct(PickleGlobal g, object?[] a)
    {
        switch (g.Module, g.Name)
        {
            case ("collections", "OrderedDict"):
                return new Dictionary<object, object?>();
            case ("torch._utils", "_rebuild_tensor_v2"):
            case ("torch._utils", "_rebuild_tensor"):
                if (a.Length < 4 || a[0] is not TorchStorageRef st || a[1] is not long off || a[2] is not object?[] size || a[3] is not object?[] stride)
                    throw new InvalidDataException($"{g}: unexpected arguments");
                var r = new TorchTensorRef(st, off, size.Select(ToLong).ToArray(), stride.Select(ToLong).ToArray());
                if (r.Shape.Length != r.Stride.Length || r.Shape.Any(d => d < 0) || r.Stride.Any(x => x < 0) || r.StorageExtent > st.ElementCount)
                    throw new InvalidDataException($"{g}: view [{string.Join(",", r.Shape)}] stride [{string.Join(",", r.Stride)}] offset {off} exceeds storage of {st.ElementCount}");
                return r;
            case ("torch._utils", "_rebuild_parameter"):
            case ("torch._utils", "_rebuild_parameter_with_state"):
                return a.Length > 0 && a[0] is TorchTensorRef p ? p : throw new InvalidDataException($"{g}: unexpected arguments");
            default:
                return null;
        }
    }

    private static long ToLong(object? o) => o is long l ? l : throw new InvalidDataException($"expected an integer, got {Describe(o)}");

    private static string Describe(object? o) => o switch
    {
        null => "None",
        object?[] t => "(" + string.Join(", ", t.Select(Describe)) + ")",
        _ => o.ToString() ?? o.GetType().Name,
    };

    /// <summary>Safetensors dtype name of a legacy typed-storage class (what torch.save still writes).</summary>
    public static string? StorageDType(string storageClass) => storageClass switch
    {
        "FloatStorage" => "F32",
        "DoubleStorage" => "F64",
        "HalfStorage" => "F16",
        "BFloat16Storage" => "BF16",
        "LongStorage" => "I64",
        "IntStorage" => "I32",
        "ShortStorage" => "I16",
        "CharStorage" => "I8",
        "ByteStorage" => "U8",
        "BoolStorage" => "BOOL",
        _ => null,
    };

    /// <summary>
    /// Streams <paramref name="byteCount"/> bytes of a storage from <paramref name="startByte"/> to <paramref name="write"/>
    /// (called with the position relative to <paramref name="startByte"/> and a chunk of at most 4 MiB), so a multi-GB storage never needs a managed copy.
    /// </summary>
    public void ReadStorage(TorchStorageRef storage, long startByte, long byteCount, Action<long, ReadOnlySpan<byte>> write)
    {
        if (startByte < 0 || byteCount < 0 || startByte + byteCount > storage.ByteLength)
            throw new ArgumentOutOfRangeException(nameof(byteCount), $"bytes {startByte}+{byteCount} outside storage of {storage.ByteLength}");
        if (byteCount == 0) return;
        var entry = _zip.GetEntry(_prefix + "data/" + storage.Key)!;
        using var s = entry.Open();
        var buf = new byte[(int)Math.Min(byteCount, 4 << 20)];
        for (long skip = startByte; skip > 0;)
        {
            // Zip entry streams only read forward; a view's offset into its storage is skipped by reading.
            int n = s.Read(buf, 0, (int)Math.Min(buf.Length, skip));
            if (n <= 0) throw new EndOfStreamException($"{Path}: storage data/{storage.Key} ended before byte {startByte}");
            skip -= n;
        }
        long done = 0;
        while (done < byteCount)
        {
            // Full 4 MiB chunks (only the last is shorter), so every chunk starts on an element boundary.
            int n = (int)Math.Min(buf.Length, byteCount - done);
            try { s.ReadExactly(buf, 0, n); }
            catch (EndOfStreamException e) { throw new EndOfStreamException($"{Path}: storage data/{storage.Key} ended before {byteCount} bytes", e); }
            write(done, buf.AsSpan(0, n));
            done += n;
        }
    }

    /// <summary>All tensors under a dictionary path (e.g. "model", "llm_backbone"), with their keys as stored.</summary>
    public IReadOnlyDictionary<string, TorchTensorRef> Tensors(params string[] path)
    {
        object? node = Root;
        foreach (var p in path)
        {
            if (node is not Dictionary<object, object?> d || !d.TryGetValue(p, out node))
                throw new InvalidDataException($"{Path}: no '{string.Join("/", path)}' in the checkpoint (top-level keys: {TopKeys()})");
        }
        if (node is not Dictionary<object, object?> dict) throw new InvalidDataException($"{Path}: '{string.Join("/", path)}' is not a dictionary");
        var result = new Dictionary<string, TorchTensorRef>(StringComparer.Ordinal);
        foreach (var (k, v) in dict)
            if (k is string name && v is TorchTensorRef t) result[name] = t;
        return result;
    }

    private string TopKeys() => Root is Dictionary<object, object?> d ? string.Join(", ", d.Keys) : Describe(Root);

    public void Dispose() => _zip.Dispose();
}
