using OpenQwen2VL.Data.Formats;

namespace OpenQwen2VL.Model.Checkpoints;

/// <summary>
/// The released Open-Qwen2VL (prismatic-vlms) checkpoint: <c>torch.save({"model": {"projector": {...},
/// "llm_backbone": {"llm.&lt;HF name&gt;": ...}}})</c>. Exposes the projector under our names
/// (<c>mlp_projector.0.weight</c>, ...) and the LLM under plain HF Qwen2 names, each loadable with
/// <see cref="CheckpointLoader"/>. The vision tower is usually not in it (frozen, loaded from its own SigLIP checkpoint);
/// when a run trained it, its <c>vision_backbone</c> entry holds the timm tower (<c>featurizer.*</c>), exposed under HF
/// SigLIP names as <see cref="Vision"/>.
/// </summary>
/// <remarks>
/// Reader choice: our own torch-free <see cref="TorchSaveArchive"/> (ZipArchive + a small pickle VM) rather than
/// TorchSharp.PyBridge 1.4.4 (Razorvine.Pickle), measured on this machine (2 cores, 2026-11-26) with a 1.04 GB bf16
/// archive in this layout, imported into a module of the same parameters:
/// ours 1.25 s, peak RSS 22 MB above the module; PyBridge (UnpickleStateDict, then copy) 3.7 s, 1046 MB above the
/// module, because it materialises every tensor of the file while unpickling. Correctness: PyBridge allocates each
/// tensor with its view's shape and reads the storage from its start, so a view with a storage offset fails
/// ("out of bounds for storage") and a non-contiguous view (transposed) cannot be read; ours gathers any
/// offset/stride view (tested against a naive gather). Ours decodes only the pickle, then streams each storage
/// from its zip entry into the destination parameter, one tensor at a time, like the safetensors path.
/// </remarks>
public sealed class PrismaticCheckpoint : IDisposable
{
    public const string FileName = "prismatic-checkpoint.pt";
    public const string ProjectorPrefix = "mlp_projector.";
    public const string LlmPrefix = "llm.";

    public TorchSaveArchive Archive { get; }
    /// <summary>Projector MLP: <c>mlp_projector.{0,2}.{weight,bias}</c>.</summary>
    public TorchSaveTensors Projector { get; }
    /// <summary>The LLM backbone under HF names (<c>model.layers.0...</c>, <c>lm_head.weight</c>).</summary>
    public TorchSaveTensors Llm { get; }
    /// <summary>The vision tower under HF SigLIP names (<c>vision_model.*</c>), or null when the checkpoint has none.</summary>
    public ICheckpointTensors? Vision { get; }

    /// <summary>The reference writes its run's weights as <c>RUN/checkpoints/latest-checkpoint.pt</c>.</summary>
    public const string ReferenceRunFileName = "latest-checkpoint.pt";

    private PrismaticCheckpoint(TorchSaveArchive archive)
    {
        Archive = archive;
        // Released checkpoints nest the state dicts under "model"; accept the bare dict too.
        string[] root = archive.Root is Dictionary<object, object?> d && d.ContainsKey("model") ? ["model"] : [];
        Projector = new TorchSaveTensors(archive, Rename(archive.Tensors([.. root, "projector"]), ProjectorName));
        Llm = new TorchSaveTensors(archive, Rename(archive.Tensors([.. root, "llm_backbone"]), LlmName));
        if (archive.Root is Dictionary<object, object?> top && (root.Length == 0 ? top : top["model"] as Dictionary<object, object?>) is { } models
            && models.ContainsKey("vision_backbone"))
        {
            var tower = new TorchSaveTensors(archive, archive.Tensors([.. root, "vision_backbone"]));
            Vision = TimmSiglipTensors.LooksLikeTimm(tower.Names) ? new TimmSiglipTensors(tower) : tower;
        }
    }

    /// <summary>Opens a checkpoint file, or the one <see cref="FindIn"/> finds in a run folder.</summary>
    public static PrismaticCheckpoint Open(string path)
    {
        if (Directory.Exists(path))
        {
            path = FindIn(path) ?? throw new FileNotFoundException($"{path}: no {FileName} or checkpoints/{ReferenceRunFileName} in the folder");
        }
        var archive = TorchSaveArchive.Open(path);
        try { return new PrismaticCheckpoint(archive); }
        catch { archive.Dispose(); throw; }
    }

    /// <summary>The checkpoint file of a folder: <c>prismatic-checkpoint.pt</c> in it or its checkpoints/, or the reference run's <c>checkpoints/latest-checkpoint.pt</c>.</summary>
    public static string? FindIn(string folder) =>
        new[] { Path.Combine(folder, FileName), Path.Combine(folder, "checkpoints", FileName), Path.Combine(folder, "checkpoints", ReferenceRunFileName) }
            .FirstOrDefault(File.Exists);

    /// <summary>prismatic names the MLP `projector.N` or (Open-Qwen2VL) `mlp_projector.N`; ours is the latter.</summary>
    public static string ProjectorName(string key) =>
        key.StartsWith(ProjectorPrefix, StringComparison.Ordinal) ? key
        : key.StartsWith("projector.", StringComparison.Ordinal) ? "mlp_" + key
        : ProjectorPrefix + key;

    public static string LlmName(string key) => key.StartsWith(LlmPrefix, StringComparison.Ordinal) ? key[LlmPrefix.Length..] : key;

    private static Dictionary<string, TorchTensorRef> Rename(IReadOnlyDictionary<string, TorchTensorRef> tensors, Func<string, string> name)
    {
        var result = new Dictionary<string, TorchTensorRef>(StringComparer.Ordinal);
        foreach (var (k, v) in tensors)
            if (!result.TryAdd(name(k), v)) throw new InvalidDataException($"two checkpoint tensors map to '{name(k)}'");
        return result;
    }

    public void Dispose() => Archive.Dispose();
}
