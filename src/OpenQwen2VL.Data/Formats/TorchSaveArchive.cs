using System.IO.Compression;

namespace OpenQwen2VL.Data.Formats;

/// <summary>A storage record of a torch.save archive: file <c>data/Key</c>, element dtype (safetensors name) and size.</summary>
public sealed record TorchStorageRef(string Key, string DType, long ElementCount)
{
    public long ByteLength => ElementCount * SafetensorsEntry.ElementSize(DType);
}

/// <summary>A tensor of a torch.save archive: a strided view into a storage (torch._utils._rebuild_tensor_v2).</summary>
/// <remarks>Built only by <see cref="TorchSaveArchive"/>, after <see cref="Validate"/>: its counts do not overflow and it stays inside its storage.</remarks>
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

    /// <summary>
    /// Null when the view is well-formed: as many strides as sizes, nothing negative, its element count and its furthest
    /// index (offset + Σ (size_i - 1)·stride_i) computable in 64 bits and inside the storage; else what is wrong.
    /// Checked before anything is allocated for the view, so a crafted offset or stride cannot make a reader allocate more
    /// than the storage the file actually holds.
    /// </summary>
    public string? Validate()
    {
        if (Shape.Length != Stride.Length) return $"{Shape.Length} sizes but {Stride.Length} strides";
        if (StorageOffset < 0 || Shape.Any(d => d < 0) || Stride.Any(x => x < 0)) return "a negative offset, size or stride";
        try
        {
            long count = 1, furthest = StorageOffset;
            for (int i = 0; i < Shape.Length; i++)
            {
                count = checked(count * Shape[i]);
                if (Shape[i] > 0) furthest = checked(furthest + checked((Shape[i] - 1) * Stride[i]));
            }
            if (count == 0 ? StorageOffset > Storage.ElementCount : furthest >= Storage.ElementCount)
                return $"it reaches element {(count == 0 ? StorageOffset : furthest)} of a storage of {Storage.ElementCount}";
        }
        catch (OverflowException) { return "its element count or furthest index overflows 64 bits"; }
        return null;
    }
}

/// <summary>
/// Reader of the zip container that <c>torch.save</c> writes (PyTorch ≥ 1.6): <c>&lt;name&gt;/data.pkl</c> is a pickle
/// whose tensors refer by persistent id to raw little-endian storages <c>&lt;name&gt;/data/&lt;key&gt;</c>. The pickle is
/// decoded with <see cref="PickleReader"/> into dictionaries, lists and <see cref="TorchTensorRef"/>s; storage bytes are
/// read on demand, one storage at a time, straight from the (normally uncompressed) zip entry.
/// </summary>
/// <remarks>
/// The file is untrusted (downloaded): the pickle may name only the torch rebuild functions, the storage classes and
/// OrderedDict (<see cref="IsAllowedGlobal"/>); data.pkl's size is checked before and while it is read; every storage's
/// size must match its zip entry, which must fit in the file; every view must stay inside its storage. Any violation is
/// one <see cref="InvalidDataException"/> line naming the file.
/// </remarks>
public sealed class TorchSaveArchive : IDisposable
{
    /// <summary>
    /// Largest data.pkl read into memory. Real ones are kilobytes to a few megabytes (the pickle holds only the
    /// structure; tensor bytes are separate entries); the limit stops a zip bomb before it fills memory.
    /// </summary>
    public const long MaxPickleBytes = 512L << 20;

    /// <summary>
    /// Deflate expands at most ~1032:1, so an entry declaring more than this many bytes per compressed byte lies about
    /// its size (torch.save stores storages uncompressed: 1:1).
    /// </summary>
    public const long MaxDeflateRatio = 1100;

    private readonly ZipArchive _zip;
    private readonly string _prefix;
    private readonly long _fileLength;

    public string Path { get; }
    /// <summary>The unpickled object (for a checkpoint: nested dictionaries of tensors).</summary>
    public object? Root { get; }

    private TorchSaveArchive(string path)
    {
        Path = path;
        var fs = RegularFile.OpenRead(path, "a PyTorch checkpoint", 1 << 16);
        _fileLength = fs.Length;
        try
        {
            _zip = new ZipArchive(fs, ZipArchiveMode.Read, leaveOpen: false);
        }
        catch (InvalidDataException e)
        {
            fs.Dispose();
            throw new InvalidDataException($"{path}: not a zip-format torch.save file (legacy pre-1.6 format is not supported)", e);
        }
        try
        {
            var pkl = _zip.Entries.FirstOrDefault(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) || e.FullName == "data.pkl")
                ?? throw new InvalidDataException($"{path}: no data.pkl in the archive");
            _prefix = pkl.FullName[..^"data.pkl".Length];
            var order = _zip.GetEntry(_prefix + "byteorder");
            if (order is not null)
            {
                var bo = System.Text.Encoding.ASCII.GetString(ReadEntry(order, 64)).Trim();
                if (bo != "little") throw new InvalidDataException($"{path}: byteorder {PickleValueText.Quote(bo)} is not supported");
            }
            var bytes = ReadEntry(pkl, MaxPickleBytes);
            var storages = new Dictionary<string, TorchStorageRef>(StringComparer.Ordinal);
            Root = PickleReader.Load(bytes, pid => PersistentLoad(pid, storages), Construct, IsAllowedGlobal);
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            // The pickle reader's and ZipArchive's messages do not know the file: name it.
            _zip.Dispose();
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
        catch
        {
            _zip.Dispose();
            throw;
        }
    }

    public static TorchSaveArchive Open(string path) => new(path);

    /// <summary>
    /// An entry's bytes, refusing one that declares more than <paramref name="limit"/> before reading, and counting what
    /// is actually decompressed too (the declared size comes from the file and may lie).
    /// </summary>
    private byte[] ReadEntry(ZipArchiveEntry entry, long limit)
    {
        if (entry.Length > limit)
            throw new InvalidDataException($"{Path}: {PickleValueText.Quote(entry.FullName)} declares {entry.Length} bytes, more than the {limit} allowed");
        using var s = entry.Open();
        using var ms = new MemoryStream();
        var buf = new byte[64 << 10];
        int n;
        while ((n = s.Read(buf, 0, buf.Length)) > 0)
        {
            if (ms.Length + n > limit)
                throw new InvalidDataException($"{Path}: {PickleValueText.Quote(entry.FullName)} decompresses to more than the {limit} bytes allowed");
            ms.Write(buf, 0, n);
        }
        return ms.ToArray();
    }

    /// <summary>What a torch.save pickle may name: the tensor/parameter rebuild functions, the storage classes, OrderedDict.</summary>
    public static bool IsAllowedGlobal(PickleGlobal g) => (g.Module, g.Name) switch
    {
        ("collections", "OrderedDict") => true,
        ("torch._utils", "_rebuild_tensor_v2" or "_rebuild_tensor" or "_rebuild_parameter" or "_rebuild_parameter_with_state") => true,
        ("torch", var storage) => StorageDType(storage) is not null,
        _ => false,
    };

    private TorchStorageRef PersistentLoad(object? pid, Dictionary<string, TorchStorageRef> storages)
    {
        // ('storage', <class torch.XStorage>, key, location, numel)
        if (pid is not object?[] { Length: 5 } t || t[0] is not "storage" || t[1] is not PickleGlobal type || t[2] is not string key)
            throw new InvalidDataException($"{Path}: unexpected persistent id {PickleValueText.Describe(pid)}");
        long numel = ToLong(t[4], $"the element count of storage {PickleValueText.Quote(key)}");
        var dtype = StorageDType(type.Name) ?? throw new InvalidDataException($"{Path}: unsupported storage type {PickleValueText.Quote(type.ToString())}");
        if (storages.TryGetValue(key, out var known))
        {
            if (known.DType != dtype || known.ElementCount != numel)
                throw new InvalidDataException($"{Path}: storage data/{PickleValueText.Quote(key)} is declared twice, as {known.ElementCount} {known.DType} and as {numel} {dtype}");
            return known;
        }
        var entry = _zip.GetEntry(_prefix + "data/" + key) ?? throw new InvalidDataException($"{Path}: storage data/{PickleValueText.Quote(key)} is missing");
        long es = SafetensorsEntry.ElementSize(dtype);
        if (numel < 0 || numel > long.MaxValue / es)
            throw new InvalidDataException($"{Path}: storage data/{PickleValueText.Quote(key)} declares {numel} elements");
        var s = new TorchStorageRef(key, dtype, numel);
        if (entry.Length != s.ByteLength)
            throw new InvalidDataException($"{Path}: storage data/{PickleValueText.Quote(key)} has {entry.Length} bytes, expected {s.ByteLength} ({numel} {dtype})");
        // The entry's declared size must be one the file can produce: its compressed bytes inside the file, and no more
        // expansion than deflate allows. Otherwise a view over it could make a reader allocate terabytes from a small file.
        if (entry.CompressedLength > _fileLength || entry.Length > entry.CompressedLength * MaxDeflateRatio)
            throw new InvalidDataException($"{Path}: storage data/{PickleValueText.Quote(key)} declares {entry.Length} bytes ({entry.CompressedLength} compressed) in a file of {_fileLength}");
        storages[key] = s;
        return s;
    }

    private object? Construct(PickleGlobal g, object?[] a)
    {
        switch (g.Module, g.Name)
        {
            case ("collections", "OrderedDict"):
                return new Dictionary<object, object?>();
            case ("torch._utils", "_rebuild_tensor_v2"):
            case ("torch._utils", "_rebuild_tensor"):
                if (a.Length < 4 || a[0] is not TorchStorageRef st || a[2] is not object?[] size || a[3] is not object?[] stride)
                    throw new InvalidDataException($"{Path}: {g} with unexpected arguments {PickleValueText.Describe(a)}");
                var r = new TorchTensorRef(st, ToLong(a[1], "a storage offset"), size.Select(x => ToLong(x, "a size")).ToArray(), stride.Select(x => ToLong(x, "a stride")).ToArray());
                if (r.Validate() is { } why)
                    throw new InvalidDataException($"{Path}: view [{string.Join(",", r.Shape)}] stride [{string.Join(",", r.Stride)}] offset {r.StorageOffset} of storage data/{PickleValueText.Quote(st.Key)} is invalid: {why}");
                return r;
            case ("torch._utils", "_rebuild_parameter"):
            case ("torch._utils", "_rebuild_parameter_with_state"):
                return a.Length > 0 && a[0] is TorchTensorRef p ? p : throw new InvalidDataException($"{Path}: {g} with unexpected arguments {PickleValueText.Describe(a)}");
            default:
                return null;
        }
    }

    /// <summary>An integer where a count is expected; LONG1/LONG4 values that fit arrive as long, larger ones are refused here.</summary>
    private long ToLong(object? o, string what) => o switch
    {
        long l => l,
        System.Numerics.BigInteger b => throw new InvalidDataException($"{Path}: {what} ({PickleValueText.Describe(b)}) does not fit in 64 bits"),
        _ => throw new InvalidDataException($"{Path}: expected an integer for {what}, got {PickleValueText.Describe(o)}"),
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
        try { ReadStorageBytes(storage, startByte, byteCount, write); }
        catch (InvalidDataException e) when (!e.Message.StartsWith(Path, StringComparison.Ordinal))
        {
            // ZipArchive's own checks (corrupt local header, CRC mismatch) do not name the file.
            throw new InvalidDataException($"{Path}: storage data/{PickleValueText.Quote(storage.Key)}: {e.Message}", e);
        }
    }

    private void ReadStorageBytes(TorchStorageRef storage, long startByte, long byteCount, Action<long, ReadOnlySpan<byte>> write)
    {
        var entry = _zip.GetEntry(_prefix + "data/" + storage.Key)!;
        using var s = entry.Open();
        var buf = new byte[(int)Math.Min(byteCount, 4 << 20)];
        for (long skip = startByte; skip > 0;)
        {
            // Zip entry streams only read forward; a view's offset into its storage is skipped by reading.
            int n = s.Read(buf, 0, (int)Math.Min(buf.Length, skip));
            if (n <= 0) throw new InvalidDataException($"{Path}: storage data/{PickleValueText.Quote(storage.Key)} ended before byte {startByte}");
            skip -= n;
        }
        long done = 0;
        while (done < byteCount)
        {
            // Full 4 MiB chunks (only the last is shorter), so every chunk starts on an element boundary.
            int n = (int)Math.Min(buf.Length, byteCount - done);
            try { s.ReadExactly(buf, 0, n); }
            // A short entry is a bad file (user input), not an I/O failure.
            catch (EndOfStreamException e) { throw new InvalidDataException($"{Path}: storage data/{PickleValueText.Quote(storage.Key)} ended before {byteCount} bytes", e); }
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
                throw new InvalidDataException($"{Path}: no '{string.Join("/", path)}' in the checkpoint (top level: {PickleValueText.Describe(Root)})");
        }
        if (node is not Dictionary<object, object?> dict) throw new InvalidDataException($"{Path}: '{string.Join("/", path)}' is not a dictionary");
        var result = new Dictionary<string, TorchTensorRef>(StringComparer.Ordinal);
        foreach (var (k, v) in dict)
            if (k is string name && v is TorchTensorRef t) result[name] = t;
        return result;
    }

    public void Dispose() => _zip.Dispose();
}
