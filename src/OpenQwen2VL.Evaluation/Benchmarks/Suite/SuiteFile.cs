using System.Text.Json;
using OpenQwen2VL.Data.Formats;

namespace OpenQwen2VL.Evaluation.Benchmarks.Suite;

/// <summary>One benchmark of a suite: its data file, its image folder (short-answer benchmarks only), protocol and limit.</summary>
public sealed record SuiteEntry(string Benchmark, string Data, string? Images, EvaluationProtocol Protocol, int? Limit, string? Annotations = null);

/// <summary>
/// A suite file: <c>{"benchmarks": [{"benchmark": "mmbench", "data": "MMBench_DEV_EN.tsv", "protocol": "official",
/// "limit": 500}, {"benchmark": "gqa", "data": "testdev_balanced_questions.json", "images": "images"}]}</c>. VQAv2 takes
/// a folder written by <c>oqvl synth</c> as <c>data</c>, or the questions JSON with <c>annotations</c> and <c>images</c>.
/// <c>protocol</c> (official or open-qwen2vl) and <c>limit</c> are optional; relative paths are relative to the
/// suite file's folder. Every entry is checked before anything runs; a problem is one line naming the file and the entry.
/// </summary>
public static class SuiteFile
{
    private static readonly HashSet<string> Keys = ["benchmark", "data", "images", "annotations", "protocol", "limit"];

    public static IReadOnlyList<SuiteEntry> Read(string path)
    {
        if (!File.Exists(path)) throw new InvalidDataException($"{path}: file not found (a suite JSON expected)");
        using var doc = UntrustedJson.Parse(BoundedFile.ReadAllBytes(path, BoundedFile.SmallJsonMaxBytes, "a suite JSON"), path, "a suite JSON");
        if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("benchmarks", out var list) || list.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"{path}: a suite is an object with a \"benchmarks\" array");
        string root = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var entries = new List<SuiteEntry>();
        int n = 0;
        foreach (var e in list.EnumerateArray())
        {
            string at = $"{path}: benchmarks[{n++}]";
            if (e.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{at} is not an object");
            foreach (var p in e.EnumerateObject())
                if (!Keys.Contains(p.Name)) throw new InvalidDataException($"{at}: unknown key \"{p.Name}\" (expected {string.Join(", ", Keys)})");
            string name = Text(e, "benchmark", at) ?? throw new InvalidDataException($"{at}: no \"benchmark\"");
            if (!BenchmarkCatalog.Names.Contains(name))
                throw new InvalidDataException($"{at}: unknown benchmark \"{name}\" (expected one of {string.Join(", ", BenchmarkCatalog.Names)})");
            string data = Text(e, "data", at) is { } d ? Path.Combine(root, d) : throw new InvalidDataException($"{at}: no \"data\" file");
            string? images = Text(e, "images", at) is { } i ? Path.Combine(root, i) : null;
            string? annotations = Text(e, "annotations", at) is { } an ? Path.Combine(root, an) : null;
            if (annotations is not null && name != BenchmarkCatalog.Vqav2) throw new InvalidDataException($"{at}: \"annotations\" is for vqav2 only");
            if (name == BenchmarkCatalog.Vqav2 && Directory.Exists(data))
            {
                if (images is not null || annotations is not null)
                    throw new InvalidDataException($"{at}: a synth folder as vqav2 data names its own annotations and images: remove \"annotations\" and \"images\"");
            }
            else if (!File.Exists(data)) throw new InvalidDataException($"{at}: data file not found: {data}");
            else if (name == BenchmarkCatalog.Vqav2)
            {
                if (annotations is null || images is null) throw new InvalidDataException($"{at}: vqav2 needs \"annotations\" and \"images\" beside its questions file (or a synth folder as \"data\")");
                if (!File.Exists(annotations)) throw new InvalidDataException($"{at}: annotations file not found: {annotations}");
                if (!Directory.Exists(images)) throw new InvalidDataException($"{at}: image folder not found: {images}");
            }
            if (BenchmarkCatalog.NeedsImageFolder(name))
            {
                if (images is null) throw new InvalidDataException($"{at}: {name} needs \"images\" (its image folder)");
                if (!Directory.Exists(images)) throw new InvalidDataException($"{at}: image folder not found: {images}");
            }
            else if (images is not null && name != BenchmarkCatalog.Vqav2) throw new InvalidDataException($"{at}: {name} has its images inline: remove \"images\"");
            var protocol = (Text(e, "protocol", at) ?? "official") switch
            {
                "official" => EvaluationProtocol.Official,
                "open-qwen2vl" => EvaluationProtocol.OpenQwen2VL,
                var other => throw new InvalidDataException($"{at}: unknown protocol \"{other}\" (expected official or open-qwen2vl)"),
            };
            int? limit = null;
            if (e.TryGetProperty("limit", out var l))
            {
                if (l.ValueKind != JsonValueKind.Number || !l.TryGetInt32(out int v) || v < 1)
                    throw new InvalidDataException($"{at}: \"limit\" must be a whole number of at least 1");
                limit = v;
            }
            entries.Add(new SuiteEntry(name, data, images, protocol, limit, annotations));
        }
        if (entries.Count == 0) throw new InvalidDataException($"{path}: the suite lists no benchmarks");
        return entries;
    }

    private static string? Text(JsonElement e, string key, string at)
    {
        if (!e.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.String || v.GetString() is not { Length: > 0 } s) throw new InvalidDataException($"{at}: \"{key}\" must be a non-empty string");
        return s;
    }
}
