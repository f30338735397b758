using OpenQwen2VL.Data.Formats;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Checkpoints;

/// <summary>Result of an HF-folder export: files written (relative names), data bytes, and tied copies left out.</summary>
public sealed record HfFolderExport(IReadOnlyList<string> Files, long TotalSize, bool Sharded, IReadOnlyList<string> DroppedTied);

/// <summary>
/// Writes module tensors as safetensors HF transformers reads: HF names, <c>{"format": "pt"}</c> metadata, optional
/// dtype conversion (floating tensors only), one tensor converted and copied off the device at a time.
/// </summary>
public static class SafetensorsExport
{
    /// <summary>HF's default <c>max_shard_size</c> ("5GB").</summary>
    public const long DefaultMaxShardBytes = 5_000_000_000;

    /// <summary>Parameters and persistent buffers by name (what a state dict holds).</summary>
    public static IEnumerable<(string Name, Tensor Tensor)> StateOf(nn.Module module) =>
        module.named_parameters().Select(p => (p.name, (Tensor)p.parameter))
            .Concat(module.named_buffers(include_nonpersistent: false).Select(b => (b.name, b.buffer)));

    public static long Save(nn.Module module, string path, ScalarType? dtype = null, IReadOnlyDictionary<string, string>? metadata = null) =>
        Save(StateOf(module), path, dtype, metadata);

    /// <summary>Writes one .safetensors file atomically; returns the data bytes.</summary>
    public static long Save(IEnumerable<(string Name, Tensor Tensor)> tensors, string path, ScalarType? dtype = null, IReadOnlyDictionary<string, string>? metadata = null) =>
        SafetensorsWriter.Write(path, tensors.Select(t => Source(t.Name, t.Tensor, dtype)), metadata);

    /// <summary>A writer source that produces the tensor's bytes (converted, on the CPU, contiguous) only when written.</summary>
    public static SafetensorsTensorSource Source(string name, Tensor tensor, ScalarType? dtype = null)
    {
        var outType = dtype is ScalarType d && SafetensorsTensors.IsFloating(tensor.dtype) ? d : tensor.dtype;
        return new SafetensorsTensorSource(name, SafetensorsTensors.ToDType(outType), tensor.shape, stream =>
        {
            using var scope = NewDisposeScope();
            var t = tensor.detach();
            if (t.dtype != outType || t.device_type != DeviceType.CPU) t = t.to(outType, CPU);
            t = t.contiguous();
            if (t.NumberOfElements * t.ElementSize <= int.MaxValue) stream.Write(t.bytes);
            else t.WriteBytesToStream(stream, 4 << 20);
        });
    }

    /// <summary>
    /// Exports a module as an HF folder: <c>model.safetensors</c>, or shards <c>model-0000i-of-0000n.safetensors</c>
    /// plus <c>model.safetensors.index.json</c> when the data exceed <paramref name="maxShardBytes"/>. With tied word
    /// embeddings (<paramref name="tieWordEmbeddings"/>, else config.json in the folder) <c>lm_head.weight</c> is
    /// left out, as HF stores tied weights once. Files of an earlier export that the new one does not use are removed.
    /// </summary>
    public static HfFolderExport SaveHfFolder(nn.Module module, string folder, ScalarType? dtype = null, bool? tieWordEmbeddings = null,
        long maxShardBytes = DefaultMaxShardBytes) =>
        SaveHfFolder(StateOf(module), folder, dtype, tieWordEmbeddings, maxShardBytes);

    public static HfFolderExport SaveHfFolder(IEnumerable<(string Name, Tensor Tensor)> tensors, string folder, ScalarType? dtype = null,
        bool? tieWordEmbeddings = null, long maxShardBytes = DefaultMaxShardBytes)
    {
        if (maxShardBytes <= 0) throw new ArgumentOutOfRangeException(nameof(maxShardBytes));
        Directory.CreateDirectory(folder);
        bool tied = tieWordEmbeddings ?? HfCheckpointConfig.ReadTieWordEmbeddings(folder) ?? false;
        var dropped = new List<string>();
        var sources = new List<SafetensorsTensorSource>();
        foreach (var (name, t) in tensors)
        {
            if (tied && name == HfCheckpointConfig.LmHeadKey) { dropped.Add(name); continue; }
            sources.Add(Source(name, t, dtype));
        }

        // HF's greedy split: tensors in state-dict order, a new shard when the next one would overflow.
        var shards = new List<List<SafetensorsTensorSource>> { new() };
        long inShard = 0, total = 0;
        foreach (var s in sources)
        {
            if (inShard > 0 && inShard + s.ByteLength > maxShardBytes) { shards.Add(new()); inShard = 0; }
            shards[^1].Add(s);
            inShard += s.ByteLength;
            total += s.ByteLength;
        }

        var files = new List<string>();
        var indexPath = Path.Combine(folder, SafetensorsIndex.FileName);
        var singlePath = Path.Combine(folder, SafetensorsIndex.SingleFileName);
        var stale = Directory.EnumerateFiles(folder, "model-*-of-*.safetensors").Select(Path.GetFileName).ToHashSet(StringComparer.Ordinal);
        if (shards.Count == 1)
        {
            SafetensorsWriter.Write(singlePath, shards[0]);
            files.Add(SafetensorsIndex.SingleFileName);
            if (File.Exists(indexPath)) File.Delete(indexPath);
        }
        else
        {
            var map = new Dictionary<string, string>(StringComparer.Ordinal);
            for (int i = 0; i < shards.Count; i++)
            {
                var name = SafetensorsIndex.ShardFileName(i, shards.Count);
                SafetensorsWriter.Write(Path.Combine(folder, name), shards[i]);
                foreach (var s in shards[i]) map[s.Name] = name;
                files.Add(name);
                stale.Remove(name);
            }
            // The index goes last: a reader never finds an index naming shards not yet written.
            new SafetensorsIndex(total, map).Write(indexPath);
            files.Add(SafetensorsIndex.FileName);
            if (File.Exists(singlePath)) File.Delete(singlePath);
        }
        foreach (var f in stale) File.Delete(Path.Combine(folder, f!));
        return new HfFolderExport(files, total, shards.Count > 1, dropped);
    }
}
