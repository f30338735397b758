using System.CommandLine;
using System.Text.Json;
using OpenQwen2VL.Evaluation.Vqa;
using Spectre.Console;

namespace OpenQwen2VL.Cli.Commands;

/// <summary>
/// `oqvl evaluate`: VQAv2 accuracy with the official metric of a VLM (assembled as `oqvl generate` does, answering
/// zero- or k-shot prompts greedily), of a results file (<c>[{question_id, answer}]</c>, e.g. from another model)
/// or of a majority-answer baseline; writes predictions, a VQAv2 results file and a summary.
/// </summary>
public sealed class EvaluateCommand : ICliCommand
{
    public Command Build()
    {
        var questions = new Option<string>("--questions") { Description = "VQAv2-style questions JSON", Required = true };
        var annotations = new Option<string>("--annotations") { Description = "VQAv2-style annotations JSON", Required = true };
        var images = new Option<string>("--images") { Description = "Image folder", Required = true };
        var pattern = new Option<string>("--image-pattern") { Description = "Image file name from image_id (.NET format)", DefaultValueFactory = _ => VqaDataset.DefaultImageFilePattern };
        var results = new Option<string?>("--results") { Description = "Predictions to score: VQAv2 results JSON [{question_id, answer}]" };
        var baseline = new Option<string?>("--baseline") { Description = "Score a baseline instead: majority | majority-per-type" };
        var outDir = new Option<string?>("--out") { Description = "Folder for predictions and summary" };
        var shots = new Option<int>("--shots") { Description = "In-context demonstrations per question", DefaultValueFactory = _ => 0 };
        var seed = new Option<int>("--seed") { Description = "Seed of the demonstration draw", DefaultValueFactory = _ => 7 };
        var limit = new Option<int?>("--limit") { Description = "Evaluate only the first N questions" };
        var llm = new Option<string?>("--llm") { Description = "Answer with a VLM: HF Qwen2/Qwen2.5 folder (with --vision and --projector or --prismatic)" };
        var vision = new Option<string?>("--vision") { Description = "HF SigLIP folder of the VLM" };
        var projector = new Option<string?>("--projector") { Description = "Projector safetensors of the VLM (mlp_projector.0/2)" };
        var prismatic = new Option<string?>("--prismatic") { Description = "Released Open-Qwen2VL prismatic-checkpoint.pt (projector + LLM)" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "tokenizer.json (default: the one in --llm)" };
        var style = new Option<string>("--style") { Description = "Prompt style: chat (ChatML, instruction-tuned models) | plain (pre-trained models)", DefaultValueFactory = _ => "chat" };
        var pool = new Option<int?>("--pool") { Description = "Pooled grid side (default: the full grid)" };
        var dtype = new Option<string>("--dtype") { Description = "fp32 | bf16 | fp16", DefaultValueFactory = _ => "fp32" };
        var device = new Option<string>("--device") { Description = "cpu | cuda | cuda:N", DefaultValueFactory = _ => "cpu" };

        var cmd = new Command("evaluate", "VQAv2 accuracy (official metric) of a VLM, a results file or a majority baseline");
        foreach (var o in new Option[] { questions, annotations, images, pattern, results, baseline, outDir, shots, seed, limit,
                     llm, vision, projector, prismatic, tokenizer, style, pool, dtype, device }) cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            foreach (var f in new[] { r.GetValue(questions)!, r.GetValue(annotations)! })
                if (!File.Exists(f)) throw new CliUserException($"file not found: {f}");
            if (!Directory.Exists(r.GetValue(images))) throw new CliUserException($"image folder not found: {r.GetValue(images)}");
            if (r.GetValue(shots) < 0) throw new CliUserException("--shots must be >= 0");
            int sources = new[] { r.GetValue(results), r.GetValue(baseline), r.GetValue(llm) }.Count(v => v is not null);
            if (sources != 1) throw new CliUserException("give exactly one of --llm (with --vision), --results or --baseline");
            if (r.GetValue(llm) is not null && r.GetValue(vision) is null) throw new CliUserException("--llm needs --vision");
            var promptStyle = r.GetValue(style) switch
            {
                "chat" => VqaPromptStyle.Chat,
                "plain" => VqaPromptStyle.Plain,
                var other => throw new CliUserException($"unknown --style '{other}' (chat | plain)"),
            };
            VqaDataset data;
            try { data = VqaDataset.Load(r.GetValue(questions)!, r.GetValue(annotations)!, r.GetValue(images)!, r.GetValue(pattern)!); }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            { throw new CliUserException($"not a VQAv2 questions/annotations pair: {e.Message}"); }
            if (data.Items.Count == 0) throw new CliUserException($"no usable questions ({string.Join(", ", data.Skipped.Select(kv => $"{kv.Key}: {kv.Value}"))})");

            using var loaded = r.GetValue(llm) is { } llmDir
                ? GenerateCommand.LoadVlm(llmDir, r.GetValue(vision)!, r.GetValue(projector), r.GetValue(prismatic), r.GetValue(tokenizer),
                    r.GetValue(pool), r.GetValue(dtype)!, r.GetValue(device)!, r.InvocationConfiguration.Error)
                : null;
            var generator = loaded is not null
                // Plain prompts start with <s> as the pre-training samples do; ChatML prompts start with the system turn.
                ? new VlmAnswerGenerator(Path.GetFileName(Path.TrimEndingDirectorySeparator(r.GetValue(llm)!)), loaded.Model, loaded.Tokenizer,
                    loaded.Preprocessor, prependBos: promptStyle == VqaPromptStyle.Plain)
                : r.GetValue(results) is { } path ? FromResultsFile(path) : Baseline(r.GetValue(baseline)!, data);
            var options = new VqaEvaluationOptions { Name = generator.Name, Shots = r.GetValue(shots), Seed = r.GetValue(seed), Limit = r.GetValue(limit), Style = promptStyle };
            var progress = loaded is null ? null : new Progress<(int Done, int Total)>(p =>
            {
                if (p.Done % 50 == 0 || p.Done == p.Total) r.InvocationConfiguration.Error.WriteLine($"{p.Done}/{p.Total} questions");
            });
            VqaEvaluationResult result;
            try { result = VqaEvaluationRunner.Run(data, generator, options, r.GetValue(outDir), progress); }
            catch (InvalidDataException e) { throw new CliUserException(e.Message); } // every image unreadable
            Print(result, data);
            return 0;
        });
        return cmd;
    }

    private static IVqaAnswerGenerator Baseline(string name, VqaDataset data) => name switch
    {
        "majority" => new MajorityAnswerBaseline(data.Items, perQuestionType: false).AsGenerator(data.Items),
        "majority-per-type" => new MajorityAnswerBaseline(data.Items, perQuestionType: true).AsGenerator(data.Items),
        _ => throw new CliUserException($"unknown --baseline '{name}' (majority | majority-per-type)"),
    };

    private static IVqaAnswerGenerator FromResultsFile(string path)
    {
        if (!File.Exists(path)) throw new CliUserException($"file not found: {path}");
        Dictionary<long, string> answers;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            answers = doc.RootElement.EnumerateArray().ToDictionary(e => e.GetProperty("question_id").GetInt64(), e => e.GetProperty("answer").GetString() ?? "");
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or ArgumentException)
        { throw new CliUserException($"not a VQAv2 results file [{{question_id, answer}}]: {e.Message}"); }
        // A question the file does not answer scores 0, like an empty answer.
        return new DelegateAnswerGenerator(Path.GetFileNameWithoutExtension(path), p => answers.GetValueOrDefault(p.QueryQuestionId, ""));
    }

    private static void Print(VqaEvaluationResult result, VqaDataset data)
    {
        var table = new Table().AddColumn("split").AddColumn("accuracy");
        table.AddRow("all", $"{100 * result.Accuracy:F2}");
        foreach (var (k, v) in result.AccuracyByAnswerType) table.AddRow($"answer type: {k}", $"{100 * v:F2}");
        foreach (var (k, v) in result.AccuracyByQuestionType) table.AddRow($"question type: {k}", $"{100 * v:F2}");
        AnsiConsole.Write(table);
        Console.WriteLine($"{result.Predictions.Count} questions ({data.Skipped.Values.Sum()} skipped on load, {result.Skipped.Values.Sum()} for an unreadable image), " +
            $"{result.Shots}-shot, generator {result.Generator}");
        foreach (var (reason, count) in data.Skipped.Concat(result.Skipped)) Console.WriteLine($"  skipped {reason}: {count}");
        foreach (var e in result.Examples)
            Console.WriteLine($"  {Path.GetFileName(e.Item.ImagePath)}  Q: {e.Item.Question}  A: {e.Answer}  (ref {e.Item.MultipleChoiceAnswer}, acc {e.Accuracy:F2})");
    }
}
