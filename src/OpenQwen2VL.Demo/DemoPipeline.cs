using System.Diagnostics;
using OpenQwen2VL.Curation.Filtering;
using OpenQwen2VL.Synthetic;
using OpenQwen2VL.Evaluation.Vqa;

namespace OpenQwen2VL.Demo;

/// <summary>
/// `oqvl demo`: synth → curate → vision tower → pack → pretrain → SFT → evaluate → report, each stage timed and logged.
/// Synth, curation and evaluation run here; the engine stages go through <see cref="IDemoModelStages"/>.
/// </summary>
public sealed class DemoPipeline(IDemoModelStages? stages = null)
{
    private readonly IDemoModelStages _stages = stages ?? new DemoModelStages();

    public static readonly string[] StageNames = ["synth", "curate", "vision", "pack", "pretrain", "sft", "evaluate", "report"];

    public DemoReport Run(DemoOptions o, Action<string>? log = null)
    {
        log ??= _ => { };
        Directory.CreateDirectory(o.OutputDir);
        var seconds = new Dictionary<string, double>(StringComparer.Ordinal);
        T Stage<T>(string name, Func<T> body)
        {
            int index = Array.IndexOf(StageNames, name) + 1;
            log($"[{index}/{StageNames.Length}] {name} ...");
            var sw = Stopwatch.StartNew();
            var result = body();
            seconds[name] = sw.Elapsed.TotalSeconds;
            log($"[{index}/{StageNames.Length}] {name} done in {sw.Elapsed.TotalSeconds:F1} s");
            return result;
        }

        string dataDir = Path.Combine(o.OutputDir, "data");
        var (synth, layout) = Stage("synth", () =>
        {
            var data = SyntheticDatasetGenerator.Generate(o.Synth);
            var written = SyntheticDatasetWriter.Write(data, dataDir);
            log($"  {data.Pretrain.Count} pairs ({data.Pretrain.Count(p => p.IsNoise)} noisy), {data.Sft.Count} SFT conversations, {data.EvalQuestions.Count} eval questions");
            return (data, written);
        });

        var curated = Stage("curate", () =>
        {
            int shards = (int)Math.Ceiling(synth.Pretrain.Count / (double)o.Synth.SamplesPerShard);
            var r = CurationPipeline.Run(new CurationOptions
            {
                InputSpec = layout.PretrainShardSpec(shards), OutputDir = Path.Combine(o.OutputDir, "curated"),
                Device = o.Device, Seed = o.Seed, Training = o.FilterTraining, TokenizerPath = o.TokenizerPath,
            }, line => log("  " + line));
            if (r.NoiseRemoval is { } m) log($"  kept {r.Kept}/{r.Input}; noise removal precision {100 * m.Precision:F1}%, recall {100 * m.Recall:F1}%");
            return r;
        });

        var eval = VqaDataset.Load(layout.EvalQuestions, layout.EvalAnnotations, layout.EvalImageRoot);
        var report = new DemoReport
        {
            Options = o, Synth = synth, Curation = curated,
            MajorityBaseline = new MajorityAnswerBaseline(eval.Items, perQuestionType: true).Accuracy(eval.Items),
            MajorityBaselineGlobal = new MajorityAnswerBaseline(eval.Items, perQuestionType: false).Accuracy(eval.Items),
        };
        report.Plots.Add(curated.HistogramPng);
        string work = Path.Combine(o.OutputDir, "work");

        report.VisionTower = Stage("vision", () => Record(report, _stages.VisionTower(o, work, log, out var n), n));
        report.Packed = Stage("pack", () => Record(report, _stages.Pack(o, curated, work, log, out var n), n));
        report.Pretrained = Stage("pretrain", () => report.Packed is null ? Skip<TrainedModel>(report, "pretrain", "no packed data")
            : report.VisionTower is null ? Skip<TrainedModel>(report, "pretrain", "no vision tower")
            : Record(report, _stages.Pretrain(o, report.Packed, report.VisionTower, work, log, out var n), n));
        report.Finetuned = Stage("sft", () => report.Pretrained is null ? Skip<TrainedModel>(report, "sft", "no pre-trained model")
            : Record(report, _stages.Sft(o, report.Pretrained, layout, work, log, out var n), n));

        foreach (var t in new[] { report.Pretrained, report.Finetuned })
            if (t?.LossPlotPng is { } png && File.Exists(png)) report.Plots.Add(png);

        Stage("evaluate", () =>
        {
            string evalDir = Path.Combine(o.OutputDir, "eval");
            // The baseline goes through the same runner as the models, so its files sit beside theirs.
            var baseline = new MajorityAnswerBaseline(eval.Items, perQuestionType: true);
            VqaEvaluationRunner.Run(eval, baseline.AsGenerator(eval.Items), new VqaEvaluationOptions { Name = "majority_baseline", Seed = o.Seed }, evalDir);
            foreach (var (model, stage, style) in new[] { (report.Pretrained, "pretrain", VqaPromptStyle.Plain), (report.Finetuned, "sft", VqaPromptStyle.Chat) })
            {
                if (model is null) continue;
                var generator = Record(report, _stages.Generator(o, model, stage, out var n), n);
                if (generator is null) continue;
                foreach (var (key, shots) in new[] { ($"zero_shot_{stage}", 0), ($"few_shot_{stage}", o.FewShot) })
                {
                    var clock = Stopwatch.StartNew();
                    var r = VqaEvaluationRunner.Run(eval, generator, new VqaEvaluationOptions { Name = key, Shots = shots, Seed = o.Seed, Style = style, Limit = o.EvalLimit }, evalDir,
                        new Progress<(int Done, int Total)>(p =>
                        {
                            if (p.Done != p.Total && p.Done % 50 != 0) return;
                            double rate = p.Done / Math.Max(1e-9, clock.Elapsed.TotalSeconds);
                            log($"  {key}: {p.Done}/{p.Total} questions, {rate:F1}/s, ETA {(p.Total - p.Done) / Math.Max(1e-9, rate):F0} s");
                        }));
                    report.Vqa[key] = r;
                    log($"  {key}: accuracy {100 * r.Accuracy:F1}% (majority baseline {100 * report.MajorityBaseline:F1}%)");
                }
            }
            return 0;
        });

        Stage("report", () =>
        {
            foreach (var (k, v) in seconds) report.StageSeconds[k] = v;
            report.StageSeconds["report"] = 0;
            report.Write(o.OutputDir);
            return 0;
        });
        report.StageSeconds["report"] = seconds["report"];
        report.Write(o.OutputDir);
        return report;
    }

    private static T? Record<T>(DemoReport report, T? result, StageNotRun? notRun) where T : class
    {
        if (result is null && notRun is not null) report.NotRun.Add(notRun);
        return result;
    }

    private static T? Skip<T>(DemoReport report, string stage, string reason) where T : class
    {
        report.NotRun.Add(new StageNotRun(stage, reason));
        return null;
    }
}
