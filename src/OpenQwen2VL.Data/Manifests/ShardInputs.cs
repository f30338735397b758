using OpenQwen2VL.Data.Shards;

namespace OpenQwen2VL.Data.Manifests;

/// <summary>Image-caption shards named on a command line, and the stage folder they came from (for lineage), if any.</summary>
public sealed record ResolvedShards(IReadOnlyList<string> Paths, StageManifest? Manifest)
{
    public IReadOnlyList<ManifestInput> Lineage => Manifest is null ? [] : [Manifest.AsInput()];
}

/// <summary>
/// `--input` of the commands that read image-caption shards (curate, pack): a folder written by an earlier stage
/// (<c>oqvl synth</c>: its pre-training shards; <c>oqvl curate</c>: the kept shards), a plain folder of <c>*.tar</c>
/// shards (e.g. img2dataset's output), or a WebDataset brace spec (<c>data/{00000..00127}.tar</c>).
/// </summary>
public static class ShardInputs
{
    public static ResolvedShards Resolve(string spec, string use)
    {
        if (string.IsNullOrWhiteSpace(spec)) throw new StageContractException($"{use}: no input given");
        if (Directory.Exists(spec))
        {
            if (StageManifest.Exists(spec))
            {
                var m = StageManifest.Read(spec).RequireKind(use, StageKinds.Synthetic, StageKinds.Curated);
                return new ResolvedShards(m.RequireShards(), m);
            }
            var tars = Directory.GetFiles(spec, "*.tar").Order(StringComparer.Ordinal).ToList();
            if (tars.Count == 0) throw new StageContractException($"{spec} holds no *.tar shards and no manifest.json: give a folder written by oqvl synth or oqvl curate, a folder of .tar shards, or a spec like data/{{00000..00009}}.tar");
            return new ResolvedShards(tars, null);
        }
        IReadOnlyList<string> shards;
        try { shards = ShardSpec.Expand(spec); }
        catch (FormatException e) { throw new StageContractException($"{use}: {e.Message}"); }
        if (shards.Count == 1 && !shards[0].EndsWith(".tar", StringComparison.OrdinalIgnoreCase) && !File.Exists(shards[0]))
            throw new StageContractException($"{use}: {spec} is neither a folder nor a shard file");
        if (!shards.Any(File.Exists))
            throw new StageContractException($"{use}: none of the {shards.Count} shards of {spec} exists (first: {shards[0]})");
        return new ResolvedShards(shards, null);
    }
}
