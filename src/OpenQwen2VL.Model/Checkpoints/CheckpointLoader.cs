using System.Diagnostics;
using OpenQwen2VL.Data.Formats;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Checkpoints;

/// <summary>
/// Loads checkpoint tensors into any <see cref="nn.Module"/> by HF parameter name (named_parameters and
/// persistent named_buffers), one tensor at a time: source (memory map or archive) → the parameter, converting
/// dtype and device on the way. Peak memory is the module plus one tensor, never two copies of the checkpoint.
/// </summary>
public static class CheckpointLoader
{
    /// <summary>
    /// Loads <c>model.safetensors</c>, a sharded <c>model.safetensors.index.json</c>, or one .safetensors file.
    /// The module is first moved to <paramref name="device"/> with floating tensors in <paramref name="dtype"/>.
    /// <c>tie_word_embeddings</c> is read from config.json next to the checkpoint when present (default: tied,
    /// as HF's default).
    /// </summary>
    /// <param name="keyMap">checkpoint name → module name; null result ignores the tensor</param>
    /// <param name="strict">throw on missing or unexpected names (shape mismatches always throw)</param>
    public static CheckpointLoadReport LoadInto(nn.Module module, string folderOrFile, ScalarType dtype, Device device,
        Func<string, string?>? keyMap = null, bool strict = true)
    {
        using var ck = SafetensorsCheckpoint.Open(folderOrFile);
        bool tied = HfCheckpointConfig.ReadTieWordEmbeddings(folderOrFile) ?? true;
        return LoadInto(module, new SafetensorsCheckpointTensors(ck), dtype, device, keyMap, strict, tied);
    }

    /// <summary>Loads from any tensor source (safetensors, a torch.save archive section).</summary>
    public static CheckpointLoadReport LoadInto(nn.Module module, ICheckpointTensors source, ScalarType dtype, Device device,
        Func<string, string?>? keyMap = null, bool strict = true, bool tieWordEmbeddings = true)
    {
        var clock = Stopwatch.StartNew();
        module.to(device, dtype);

        // Module tensors by name. named_parameters lists a shared (tied) parameter once, under its first name.
        var targets = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, p) in module.named_parameters()) targets[name] = p;
        var required = new HashSet<string>(targets.Keys, StringComparer.Ordinal);
        foreach (var (name, b) in module.named_buffers(include_nonpersistent: false)) { targets.TryAdd(name, b); required.Add(name); }
        foreach (var (name, b) in module.named_buffers()) targets.TryAdd(name, b);

        // Plan: checkpoint name → module name.
        var plan = new List<(string From, string To)>();
        var ignored = new List<string>();
        var unexpected = new List<string>();
        var tiedSkipped = new List<string>();
        var shapeErrors = new List<string>();
        foreach (var name in source.Names.Order(StringComparer.Ordinal))
        {
            var to = keyMap is null ? name : keyMap(name);
            if (to is null) { ignored.Add(name); continue; }
            if (!targets.TryGetValue(to, out var t))
            {
                // A module that shares one parameter for embeddings and LM head lists it once; the checkpoint's
                // separate copy is redundant if (and only if) it equals the embeddings.
                if (to == HfCheckpointConfig.LmHeadKey && targets.ContainsKey(HfCheckpointConfig.EmbedTokensKey)
                    && IsCopyOfEmbeddings(source, name, keyMap)) tiedSkipped.Add(name);
                else unexpected.Add(name);
                continue;
            }
            var shape = source.Shape(name);
            if (SafetensorsTensors.TryToScalarType(source.DType(name)) is null)
                shapeErrors.Add($"{name}: stored as {source.DType(name)}, a dtype this loader cannot read");
            else if (!shape.SequenceEqual(t.shape))
                shapeErrors.Add($"{name}: checkpoint [{string.Join(",", shape)}] vs module {to} [{string.Join(",", t.shape)}]");
            plan.Add((name, to));
        }
        if (shapeErrors.Count > 0)
            throw new CheckpointMismatchException($"{source.Source}: {shapeErrors.Count} shape or dtype mismatches: {CheckpointMismatchException.Sample(shapeErrors)}");
        var dupTargets = plan.GroupBy(p => p.To).Where(g => g.Count() > 1).Select(g => $"{g.Key} <- {string.Join(" & ", g.Select(x => x.From))}").ToList();
        if (dupTargets.Count > 0)
            throw new CheckpointMismatchException($"{source.Source}: several checkpoint tensors map to one module tensor: {CheckpointMismatchException.Sample(dupTargets)}");

        var loadedNames = plan.Select(p => p.To).ToHashSet(StringComparer.Ordinal);
        var tiedFrom = new List<string>();
        string? embedSource = plan.FirstOrDefault(p => p.To == HfCheckpointConfig.EmbedTokensKey).From;
        if (tieWordEmbeddings && targets.ContainsKey(HfCheckpointConfig.LmHeadKey) && !loadedNames.Contains(HfCheckpointConfig.LmHeadKey)
            && embedSource is not null && source.Shape(embedSource).SequenceEqual(targets[HfCheckpointConfig.LmHeadKey].shape))
            tiedFrom.Add(HfCheckpointConfig.LmHeadKey);

        var missing = required.Where(n => !loadedNames.Contains(n) && !tiedFrom.Contains(n)).Order(StringComparer.Ordinal).ToList();
        if (strict && (missing.Count > 0 || unexpected.Count > 0))
            throw new CheckpointMismatchException($"{source.Source} does not match the module ({module.GetType().Name}):" +
                (missing.Count > 0 ? $" missing {missing.Count}: {CheckpointMismatchException.Sample(missing)};" : "") +
                (unexpected.Count > 0 ? $" unexpected {unexpected.Count}: {CheckpointMismatchException.Sample(unexpected)};" : "") +
                " (pass strict: false to load the rest)");

        long bytes = 0;
        using (no_grad())
        {
            foreach (var (from, to) in plan)
            {
                source.CopyInto(from, targets[to]);
                bytes += source.Shape(from).Aggregate(1L, (a, b) => a * b) * SafetensorsEntry.ElementSize(source.DType(from));
            }
            foreach (var name in tiedFrom) source.CopyInto(embedSource!, targets[name]);
        }
        return new CheckpointLoadReport(source.Source, plan.Select(p => p.To).ToList(), bytes, missing, unexpected, ignored,
            tiedFrom, tiedSkipped, clock.Elapsed);
    }

    private static bool IsCopyOfEmbeddings(ICheckpointTensors source, string lmHeadName, Func<string, string?>? keyMap)
    {
        var embed = source.Names.FirstOrDefault(n => (keyMap is null ? n : keyMap(n)) == HfCheckpointConfig.EmbedTokensKey);
        if (embed is null || !source.Shape(embed).SequenceEqual(source.Shape(lmHeadName))) return false;
        // Bit-exact comparison of the stored values (contiguous CPU tensors in their stored dtype).
        using var a = source.Read(embed);
        using var b = source.Read(lmHeadName);
        return a.dtype == b.dtype && a.bytes.SequenceEqual(b.bytes);
    }
}
