using System.CommandLine;
using System.Text.Json;
using OpenQwen2VL.Cli.Options;
using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Data.Prompts;
using System.Globalization;
using OpenQwen2VL.Evaluation.Benchmarks;
using OpenQwen2VL.Evaluation.Benchmarks.Suite;
using OpenQwen2VL.Evaluation.Vqa;
using OpenQwen2VL.Model.Vlm;
using Spectre.Console;

namespace OpenQwen2VL.Cli.Commands;

/// <summary>
/// `oqvl evaluate`: VQAv2 accuracy with the official metric of a VLM (assembled as `oqvl generate` does, answering
/// zero- or k-shot prompts greedily), of a results file (<c>[{question_id, answer}]</c>, e.g. from another model)
/// or of a majority-answer baseline; writes predictions, a VQAv2 results file and a summary.
/// </summary>
public sealed class EvaluateCommand : ICliCommand
{
    /// <summary>A baseline that answers without a model.</summary>
    public enum BaselineChoice { Majority, MajorityPerType }

    /// <summary>The benchmarks `--benchmark` selects.</summary>
    public enum BenchmarkChoice { Vqav2, Gqa, Textvqa, Pope, Mmbench, Seedbench, Mmstar, Ai2d, Scienceqa }

    public Command Build()
    {
        var data = new Option<string?>("--data") { Description = "vqav2: a folder written by oqvl synth (instead of --questions/--annotations/--images); gqa: testdev questions JSON; textvqa: TextVQA_0.5.1_val.json; pope: POPE JSON lines; mmbench, seedbench, mmstar, ai2d, scienceqa: a VLMEvalKit TSV (images inline)", HelpName = "PATH" };
        var benchmark = new Option<BenchmarkChoice>("--benchmark") { Description = "vqav2, gqa, textvqa, pope, mmbench, seedbench, mmstar, ai2d or scienceqa", DefaultValueFactory = _ => BenchmarkChoice.Vqav2 };
        var suite = new Option<string?>("--suite") { Description = "run the benchmarks a suite JSON lists ({\"benchmarks\": [{benchmark, data, images?, annotations?, protocol?, limit?}]}; vqav2 data: a synth folder, or questions with annotations and images) and write suite.md, suite.json and suite.png into --out", HelpName = "FILE" };
        var protocol = new Option<EvaluationProtocolKind>("--protocol") { Description = "official (the benchmark's own) or open-qwen2vl (the reference harness: plain prompt, stop at , . newline, delete . and ,, lower-case)", DefaultValueFactory = _ => EvaluationProtocolKind.Official };
        protocol.CustomParser = r => r.Tokens.Single().Value.ToLowerInvariant() switch
        {
            "official" => EvaluationProtocolKind.Official,
            "open-qwen2vl" or "openqwen2vl" => EvaluationProtocolKind.OpenQwen2VL,
            var other => Fail(r, $"--protocol {other}: expected official or open-qwen2vl"),
        };
        var questions = new Option<string?>("--questions") { Description = "VQAv2-style questions JSON", HelpName = "FILE" };
        var annotations = new Option<string?>("--annotations") { Description = "VQAv2-style annotations JSON", HelpName = "FILE" };
        var images = new Option<string?>("--images") { Description = "image folder", HelpName = "DIR" };
        var pattern = new Option<string>("--image-pattern") { Description = "image file name from image_id (.NET format)", DefaultValueFactory = _ => VqaDataset.DefaultImageFilePattern };
        var results = new Option<string?>("--results") { Description = "score predictions instead of a model: VQAv2 results JSON [{question_id, answer}]", HelpName = "FILE" };
        var baseline = CommonOptions.OptionalEnum<BaselineChoice>("--baseline", "score a baseline instead of a model");
        var outDir = CommonOptions.Out("folder for predictions, the VQAv2 results file and the summary", required: false);
        var shots = new Option<int>("--shots") { Description = "in-context demonstrations per question", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var seed = CommonOptions.Seed($"seed of the demonstration draw (default {CommonOptions.DefaultSeed}; {ReferenceShotSeed} with --shot-selection reference, as the reference harness)");
        var shotSelection = CommonOptions.OptionalEnum<ShotSelection>("--shot-selection",
            "ours (per question, never the query's image; default) or reference (one seeded draw of k for the whole run, as the reference harness)");
        var limit = new Option<int?>("--limit") { Description = "evaluate only the first N questions" }.AtLeast(1);
        var batchSize = new Option<int>("--batch-size") { Description = "questions a model answers together (answers do not depend on it)", DefaultValueFactory = _ => 8, HelpName = "N" }.InRange(1, 1024);
        var model = new ModelOptions();

        var cmd = new Command("evaluate", "benchmark scores (VQAv2, GQA, TextVQA, POPE; MMBench, SEEDBench, MMStar, AI2D, ScienceQA from VLMEvalKit TSVs; official metrics) of a model, a suite of them, or VQAv2 of a results file or a majority baseline");
        foreach (var o in new Option[] { benchmark, suite, protocol, data, questions, annotations, images, pattern, results, baseline, outDir, shots, shotSelection, seed, limit, batchSize }) cmd.Options.Add(o);
        model.AddTo(cmd);
        cmd.SetAction(r =>
        {
            var chosenProtocol = EvaluationProtocol.For(r.GetValue(protocol));
            if (r.GetValue(suite) is { } suitePath)
            {
                Option[] single = [benchmark, protocol, data, questions, annotations, images, results, baseline, shots, limit];
                if (single.FirstOrDefault(o => r.GetResult(o) is { Implicit: false }) is { } extra)
                    throw new CliUserException($"--suite gives the benchmarks, their data, protocol and limit: do not combine it with {extra.Name}");
                return RunSuite(r, suitePath, model, r.GetValue(outDir), r.GetValue(batchSize));
            }
            if (r.GetValue(benchmark) != BenchmarkChoice.Vqav2)
            {
                if (r.GetValue(results) is not null || r.GetValue(baseline) is not null || r.GetValue(shots) != 0 || r.GetValue(shotSelection) is not null || r.GetValue(questions) is not null || r.GetValue(annotations) is not null)
                    throw new CliUserException("--results, --baseline, --shots, --shot-selection, --questions and --annotations are for --benchmark vqav2");
                return RunBenchmark(r, r.GetValue(benchmark), r.GetValue(data), r.GetValue(images), model, chosenProtocol, r.GetValue(outDir), r.GetValue(limit), r.GetValue(batchSize));
            }
            bool scoringResults = r.GetValue(results) is not null;
            var selection = r.GetValue(shotSelection) ?? ShotSelection.Ours;
            var (q, a, img) = Split(r.GetValue(data), r.GetValue(questions), r.GetValue(annotations), r.GetValue(images), scoringResults);
            bool hasModel = r.GetValue(model.Model) is not null || r.GetValue(model.Llm) is not null;
            int sources = new[] { r.GetValue(results) is not null, r.GetValue(baseline) is not null, hasModel }.Count(x => x);
            if (sources != 1) throw new CliUserException("give exactly one of --model (or --llm with --vision), --results or --baseline");
            VqaDataset dataset;
            try { dataset = VqaDataset.Load(q, a, img, r.GetValue(pattern)!, requireImages: !scoringResults); }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            { throw new CliUserException($"not a VQAv2 questions/annotations pair: {e.Message}"); }
            if (dataset.Items.Count == 0) throw new CliUserException($"no usable questions ({string.Join(", ", dataset.Skipped.Select(kv => $"{kv.Key}: {kv.Value}"))})");

            using var loaded = hasModel ? model.Load(r, r.InvocationConfiguration.Error) : null;
            var style = VqaPromptStyle.Chat;
            IVqaAnswerGenerator generator;
            if (loaded is not null)
            {
                style = StyleOf(model.Format(r, loaded, PromptFormatChoice.Chatml));
                // <s> first wherever the model was trained with it (plain, open-qwen2vl; never twice); ChatML starts with the system turn.
                generator = new VlmAnswerGenerator(ModelName(r.GetValue(model.Model) ?? r.GetValue(model.Llm)!), loaded.Model, loaded.Tokenizer,
                    loaded.Preprocessor, prependBos: chosenProtocol.Style(style) != VqaPromptStyle.Chat);
            }
            else generator = r.GetValue(results) is { } path ? FromResultsFile(path, dataset) : Baseline(r.GetValue(baseline)!.Value, dataset);
            // A results file is scored exactly as written, as the official evaluator would see it.
            var options = new VqaEvaluationOptions
            {
                Name = generator.Name, Shots = r.GetValue(shots), Limit = r.GetValue(limit), Style = style,
                ShotSelection = selection, Seed = r.GetResult(seed) is { Implicit: false } || selection == ShotSelection.Ours ? r.GetValue(seed) : ReferenceShotSeed,
                Protocol = chosenProtocol, ProcessAnswers = !scoringResults, BatchSize = r.GetValue(batchSize),
            };
            var progress = loaded is null ? null : new Progress<(int Done, int Total)>(p =>
            {
                if (p.Done % 50 == 0 || p.Done == p.Total) r.InvocationConfiguration.Error.WriteLine($"{p.Done}/{p.Total} questions");
            });
            VqaEvaluationResult result;
            try { result = VqaEvaluationRunner.Run(dataset, generator, options, r.GetValue(outDir), progress); }
            catch (InvalidDataException e) { throw new CliUserException(e.Message); } // every image unreadable
            Print(result, dataset);
            return 0;
        });
        return cmd;
    }

    /// <summary>The evaluation split: from a synth folder's manifest, or the three explicit paths.</summary>
    static (string Questions, string Annotations, string Images) Split(string? data, string? questions, string? annotations, string? images, bool scoringResults)
    {
        if (data is not null)
        {
            if (questions is not null || annotations is not null || images is not null)
                throw new CliUserException("--data gives the questions, annotations and images: do not combine it with --questions/--annotations/--images");
            var m = StageManifest.Read(data).RequireKind("evaluate --data", StageKinds.Synthetic);
            return (m.RequireFile("eval_questions"), m.RequireFile("eval_annotations"), m.RequireFile("eval_images"));
        }
        if (questions is null || annotations is null || images is null)
            throw new CliUserException("give --data SYNTH_DIR, or --questions, --annotations and --images");
        foreach (var f in new[] { questions, annotations })
            if (!File.Exists(f)) throw new CliUserException($"file not found: {f}");
        if (!Directory.Exists(images) && !scoringResults) throw new CliUserException($"image folder not found: {images}");
        return (questions, annotations, images);
    }

    /// <summary>A short name for result files: the model folder's name (a run's final/ is named after its run).</summary>
    static string ModelName(string path)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        var name = Path.GetFileNameWithoutExtension(full);
        return name == "final" ? Path.GetFileName(Path.GetDirectoryName(full)!) : name;
    }

    private static IVqaAnswerGenerator Baseline(BaselineChoice choice, VqaDataset data) =>
        new MajorityAnswerBaseline(data.Items, perQuestionType: choice == BaselineChoice.MajorityPerType).AsGenerator(data.Items);

    private static IVqaAnswerGenerator FromResultsFile(string path, VqaDataset data)
    {
        if (!File.Exists(path)) throw new CliUserException($"file not found: {path}");
        var answers = VqaResultsFile.Read(path);
        // Like the official loadRes, the file must answer exactly the split's questions; --limit scores the first N of them.
        VqaResultsFile.RequireSameQuestions(path, answers, data.Items.Select(i => i.QuestionId));
        return new DelegateAnswerGenerator(Path.GetFileNameWithoutExtension(path), p => answers[p.QueryQuestionId]);
    }

    /// <summary>A GQA, TextVQA, POPE or multiple-choice run of a model through the generic benchmark runner.</summary>
    private static int RunBenchmark(ParseResult r, BenchmarkChoice choice, string? data, string? images, ModelOptions model,
        EvaluationProtocol protocol, string? outDir, int? limit, int batchSize)
    {
        string name = Name(choice);
        if (BenchmarkCatalog.NeedsImageFolder(name))
        {
            if (data is null || images is null) throw new CliUserException($"--benchmark {name} needs --data FILE and --images DIR");
            if (!Directory.Exists(images)) throw new CliUserException($"image folder not found: {images}");
        }
        else
        {
            if (data is null) throw new CliUserException($"--benchmark {name} needs --data FILE.tsv (a VLMEvalKit TSV)");
            if (images is not null) throw new CliUserException($"--benchmark {name} has its images inline in the TSV: drop --images");
        }
        if (r.GetValue(model.Model) is null && r.GetValue(model.Llm) is null) throw new CliUserException($"--benchmark {name} needs --model (or --llm with --vision)");
        using var benchmark = new DisposableBenchmark(BenchmarkCatalog.Load(name, data, images));
        if (benchmark.Value.Items.Count == 0)
            throw new CliUserException($"{data}: no usable items ({string.Join(", ", benchmark.Value.SkippedOnLoad.Select(kv => $"{kv.Key}: {kv.Value}"))})");
        using var loaded = model.Load(r, r.InvocationConfiguration.Error);
        var (generator, style, _) = Generator(r, model, loaded, protocol);
        var progress = new Progress<(int Done, int Total)>(p =>
        {
            if (p.Done % 50 == 0 || p.Done == p.Total) r.InvocationConfiguration.Error.WriteLine($"{p.Done}/{p.Total} items");
        });
        var result = BenchmarkRunner.Run(benchmark.Value, generator, new BenchmarkRunOptions
        {
            Name = $"{generator.Name}_{benchmark.Value.Name}", Protocol = protocol, Style = style, Limit = limit, BatchSize = batchSize,
        }, outDir, progress);
        var table = new Table().AddColumn("metric").AddColumn("score").AddColumn("n");
        // Metric names carry [category] suffixes, which Spectre would read as markup.
        foreach (var row in result.Rows) table.AddRow(Markup.Escape(row.Metric), $"{100 * row.Value:F2}", row.Count.ToString(CultureInfo.InvariantCulture));
        AnsiConsole.Write(table);
        Console.WriteLine($"{result.Predictions.Count} items of {benchmark.Value.Name} ({benchmark.Value.SkippedOnLoad.Values.Sum()} skipped on load, {result.Skipped.Values.Sum()} while asking), protocol {result.Protocol}, generator {result.Generator}");
        foreach (var (reason, count) in benchmark.Value.SkippedOnLoad.Concat(result.Skipped)) Console.WriteLine($"  skipped {reason}: {count}");
        return 0;
    }

    /// <summary>The model as an answer generator under a protocol: its prompt style (the protocol may force plain) and that style's name.</summary>
    private static SuiteGenerator Generator(ParseResult r, ModelOptions model, LoadedVlm loaded, EvaluationProtocol protocol)
    {
        var style = protocol.Style(StyleOf(model.Format(r, loaded, PromptFormatChoice.Chatml)));
        // <s> first wherever the model was trained with it: plain (pre-trained) and the released format, never ChatML.
        var generator = new VlmAnswerGenerator(ModelName(r.GetValue(model.Model) ?? r.GetValue(model.Llm)!), loaded.Model, loaded.Tokenizer,
            loaded.Preprocessor, prependBos: style != VqaPromptStyle.Chat);
        string formatName = style switch { VqaPromptStyle.Chat => PromptFormats.ChatMl, VqaPromptStyle.OpenQwen2VL => PromptFormats.OpenQwen2VL, _ => PromptFormats.Plain };
        return new SuiteGenerator(generator, style, formatName);
    }

    /// <summary>`--suite`: every benchmark of the suite file with one model, then suite.md, suite.json and suite.png.</summary>
    private static int RunSuite(ParseResult r, string suitePath, ModelOptions model, string? outDir, int batchSize)
    {
        if (outDir is null) throw new CliUserException("--suite needs --out DIR (the suite's tables, chart and per-benchmark results go there)");
        if (r.GetValue(model.Model) is null && r.GetValue(model.Llm) is null) throw new CliUserException("--suite needs --model (or --llm with --vision)");
        var entries = SuiteFile.Read(suitePath);
        using var loaded = model.Load(r, r.InvocationConfiguration.Error);
        var generators = new Dictionary<EvaluationProtocol, SuiteGenerator>();
        SuiteGenerator For(EvaluationProtocol p) => generators.TryGetValue(p, out var g) ? g : generators[p] = Generator(r, model, loaded, p);
        IReadOnlyList<SuiteRow> rows;
        try { rows = SuiteRunner.Run(entries, For, outDir, r.InvocationConfiguration.Error, batchSize); }
        catch (ArgumentException e) { throw new CliUserException(e.Message); }
        var table = new Table().AddColumn("benchmark").AddColumn("metric").AddColumn("score").AddColumn("n").AddColumn("skipped").AddColumn("protocol").AddColumn("prompt format").AddColumn("seconds");
        foreach (var row in rows)
            table.AddRow(Markup.Escape(row.Benchmark), Markup.Escape(row.Metric), $"{100 * row.Score:F2}", row.N.ToString(CultureInfo.InvariantCulture), row.Skipped.ToString(CultureInfo.InvariantCulture),
                row.Protocol, row.PromptFormat, row.Seconds.ToString("F1", CultureInfo.InvariantCulture));
        AnsiConsole.Write(table);
        Console.WriteLine($"wrote {Path.Combine(outDir, SuiteReport.Markdown)}, {SuiteReport.Json} and {SuiteReport.Chart}");
        return 0;
    }

    /// <summary>Disposes a benchmark that holds files (multiple choice keeps its decoded images until then).</summary>
    private sealed class DisposableBenchmark(IBenchmark value) : IDisposable
    {
        public IBenchmark Value { get; } = value;
        public void Dispose() => (Value as IDisposable)?.Dispose();
    }

    /// <summary>The reference harness draws its demonstrations with <c>Random(21)</c>.</summary>
    public const int ReferenceShotSeed = 21;

    /// <summary>The prompt style of a model's prompt format.</summary>
    public static VqaPromptStyle StyleOf(PromptFormatChoice format) => format switch
    {
        PromptFormatChoice.Chatml => VqaPromptStyle.Chat,
        PromptFormatChoice.OpenQwen2vl => VqaPromptStyle.OpenQwen2VL,
        _ => VqaPromptStyle.Plain,
    };

    private static string Name(BenchmarkChoice choice) => choice.ToString().ToLowerInvariant();

    private static EvaluationProtocolKind Fail(System.CommandLine.Parsing.ArgumentResult r, string message)
    {
        r.AddError(message);
        return default;
    }

    private static void Print(VqaEvaluationResult result, VqaDataset data)
    {
        var table = new Table().AddColumn("split").AddColumn("accuracy");
        table.AddRow("all", $"{100 * result.Accuracy:F2}");
        foreach (var (k, v) in result.AccuracyByAnswerType) table.AddRow($"answer type: {k}", $"{100 * v:F2}");
        foreach (var (k, v) in result.AccuracyByQuestionType) table.AddRow($"question type: {k}", $"{100 * v:F2}");
        AnsiConsole.Write(table);
        Console.WriteLine($"{result.Predictions.Count} questions ({data.Skipped.Values.Sum()} skipped on load, {result.Skipped.Values.Sum()} for an unreadable image), " +
            $"{result.Shots}-shot ({result.ShotSelection} selection, seed {result.Seed}), prompt {result.PromptStyle}, protocol {result.Protocol}, generator {result.Generator}; official accuracy {result.OfficialOverall:F2}");
        foreach (var (reason, count) in data.Skipped.Concat(result.Skipped)) Console.WriteLine($"  skipped {reason}: {count}");
        foreach (var e in result.Examples)
            Console.WriteLine($"  {Path.GetFileName(e.Item.ImagePath)}  Q: {e.Item.Question}  A: {e.Answer}  (ref {e.Item.MultipleChoiceAnswer}, acc {e.Accuracy:F2})");
    }
}
