namespace OpenQwen2VL.Data.Formats;

/// <summary>
/// A safetensors checkpoint that may span several files: a single <c>.safetensors</c> file, a folder with
/// <c>model.safetensors</c>, or a folder / index file with <c>model.safetensors.index.json</c> and its shards.
/// Every shard is memory-mapped (nothing is read up front); tensors are looked up by name.
/// </summary>
public sealed class SafetensorsCheckpoint : IDisposable
{
    private readonly List<SafetensorsFile> _files = new();
    private readonly Dictionary<string, (SafetensorsFile File, SafetensorsEntry Entry)> _tensors = new(StringComparer.Ordinal);

    /// <summary>The folder or file the checkpoint was opened from.</summary>
    public string Source { get; }
    public IReadOnlyList<SafetensorsFile> Files => _files;
    public IEnumerable<string> Names => _tensors.Keys;
    public int Count => _tensors.Count;

    private SafetensorsCheckpoint(string source) => Source = source;

    public static SafetensorsCheckpoint Open(string folderOrFile)
    {
        var ck = new SafetensorsCheckpoint(folderOrFile);
        try
        {
            string? index = null, single = null;
            if (Directory.Exists(folderOrFile))
            {
                var idx = Path.Combine(folderOrFile, SafetensorsIndex.FileName);
                var one = Path.Combine(folderOrFile, SafetensorsIndex.SingleFileName);
                if (File.Exists(idx)) index = idx;
                else if (File.Exists(one)) single = one;
                else throw new FileNotFoundException($"{folderOrFile}: neither {SafetensorsIndex.SingleFileName} nor {SafetensorsIndex.FileName} found");
            }
            else if (File.Exists(folderOrFile))
            {
                if (folderOrFile.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) index = folderOrFile;
                else single = folderOrFile;
            }
            else throw new FileNotFoundException($"checkpoint not found: {folderOrFile}");

            if (single is not null) ck.Add(SafetensorsFile.Open(single), null);
            else ck.OpenShards(index!);
            return ck;
        }
        catch
        {
            ck.Dispose();
            throw;
        }
    }

    private void OpenShards(string indexPath)
    {
        var index = SafetensorsIndex.Read(indexPath);
        var dir = Path.GetDirectoryName(Path.GetFullPath(indexPath))!;
        foreach (var shard in index.WeightMap.Values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            var path = Path.Combine(dir, shard);
            if (!File.Exists(path)) throw new FileNotFoundException($"{indexPath}: shard {shard} is missing");
            var names = index.WeightMap.Where(kv => kv.Value == shard).Select(kv => kv.Key).ToHashSet(StringComparer.Ordinal);
            Add(SafetensorsFile.Open(path), names);
        }
        var absent = index.WeightMap.Keys.Where(k => !_tensors.ContainsKey(k)).Take(5).ToList();
        if (absent.Count > 0) throw new InvalidDataException($"{indexPath}: weight_map names tensors its shards lack: {string.Join(", ", absent)}");
    }

    private void Add(SafetensorsFile file, HashSet<string>? only)
    {
        _files.Add(file);
        foreach (var e in file.Entries)
        {
            // A shard may carry tensors the index does not list; the index is authoritative.
            if (only is not null && !only.Contains(e.Name)) continue;
            if (!_tensors.TryAdd(e.Name, (file, e)))
                throw new InvalidDataException($"{Source}: tensor {e.Name} appears in two shards ({_tensors[e.Name].File.Path}, {file.Path})");
        }
    }

    public bool Contains(string name) => _tensors.ContainsKey(name);

    public bool TryGet(string name, out SafetensorsFile file, out SafetensorsEntry entry)
    {
        if (_tensors.TryGetValue(name, out var v)) { file = v.File; entry = v.Entry; return true; }
        file = null!; entry = null!;
        return false;
    }

    public (SafetensorsFile File, SafetensorsEntry Entry) this[string name] =>
        _tensors.TryGetValue(name, out var v) ? v : throw new KeyNotFoundException($"{Source}: no tensor '{name}'");

    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
        _files.Clear();
    }
}
