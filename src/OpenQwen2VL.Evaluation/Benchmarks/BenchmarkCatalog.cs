using OpenQwen2VL.Evaluation.Benchmarks.MultipleChoice;

namespace OpenQwen2VL.Evaluation.Benchmarks;

/// <summary>
/// The benchmarks the generic runner drives, by name: short answer (gqa, textvqa, pope: a data file and an image
/// folder) and multiple choice (mmbench, seedbench, mmstar, ai2d, scienceqa: a VLMEvalKit TSV with inline images).
/// VQAv2 (vqav2: a folder written by <c>oqvl synth</c>, or a questions JSON with its annotations and image folder) is
/// here for suites; <c>oqvl evaluate --benchmark vqav2</c> keeps its own runner (few-shot, results files, baselines).
/// </summary>
public static class BenchmarkCatalog
{
    public static IReadOnlyList<string> ShortAnswer { get; } = ["gqa", "textvqa", "pope"];
    public static IReadOnlyList<string> MultipleChoice { get; } = McDataset.All.Select(d => d.Name).ToArray();
    public const string Vqav2 = "vqav2";
    public static IReadOnlyList<string> Names { get; } = [Vqav2, .. ShortAnswer, .. MultipleChoice];

    public static bool NeedsImageFolder(string name) => ShortAnswer.Contains(name);

    /// <summary>Loads a benchmark (dispose it when done: MC benchmarks hold decoded images in a temporary folder).</summary>
    public static IBenchmark Load(string name, string data, string? images, string? annotations = null) => name switch
    {
        Vqav2 when Directory.Exists(data) => Vqav2Benchmark.LoadSynthetic(data),
        Vqav2 => Vqav2Benchmark.Load(data, annotations ?? throw new ArgumentException("vqav2 needs its annotations file"), Require(images, name)),
        "gqa" => GqaBenchmark.Load(data, Require(images, name)),
        "textvqa" => TextVqaBenchmark.Load(data, Require(images, name)),
        "pope" => PopeBenchmark.Load(data, Require(images, name)),
        _ when McDataset.ByName(name) is { } mc => MultipleChoiceBenchmark.Load(data, mc),
        _ => throw new ArgumentException($"unknown benchmark {name}: expected one of {string.Join(", ", Names)}"),
    };

    private static string Require(string? images, string name) =>
        images ?? throw new ArgumentException($"{name} needs an image folder");
}
