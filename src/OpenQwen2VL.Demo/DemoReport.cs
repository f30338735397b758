using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenQwen2VL.Curation.Filtering;
using OpenQwen2VL.Synthetic;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Evaluation.Vqa;

namespace OpenQwen2VL.Demo;

/// <summary>Everything the demo measured. Null means the stage did not run (see <see cref="NotRun"/>).</summary>
public sealed class DemoReport
{
    public required DemoOptions Options { get; init; }
    public required SyntheticDataset Synth { get; init; }
    public required CurationResult Curation { get; init; }
    public PretrainedVisionTower? VisionTower { get; set; }
    public PackedData? Packed { get; set; }
    public TrainedModel? Pretrained { get; set; }
    public TrainedModel? Finetuned { get; set; }
    public required double MajorityBaseline { get; init; }
    public required double MajorityBaselineGlobal { get; init; }
    /// <summary>Keys: zero_shot_pretrain, few_shot_pretrain, zero_shot_sft, few_shot_sft.</summary>
    public Dictionary<string, VqaEvaluationResult?> Vqa { get; } = new(StringComparer.Ordinal)
    {
        ["zero_shot_pretrain"] = null, ["few_shot_pretrain"] = null, ["zero_shot_sft"] = null, ["few_shot_sft"] = null,
    };
    public List<StageNotRun> NotRun { get; } = [];
    public Dictionary<string, double> StageSeconds { get; } = new(StringComparer.Ordinal);
    public List<string> Plots { get; } = [];

    public JsonObject ToJson()
    {
        var vqa = new JsonObject();
        var byType = new JsonObject();
        foreach (var (k, v) in Vqa)
        {
            vqa[k] = v is null ? null : JsonValue.Create(v.Accuracy);
            byType[k] = v is null ? null : new JsonObject(v.AccuracyByQuestionType.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)JsonValue.Create(p.Value))));
        }
        var stages = new JsonObject();
        foreach (var (k, v) in StageSeconds) stages[k] = Math.Round(v, 3);
        var m = Curation.NoiseRemoval;
        return new JsonObject
        {
            ["seed"] = Options.Seed,
            ["quick"] = Options.Quick,
            ["vqa_accuracy"] = vqa,
            ["vqa_accuracy_by_question_type"] = byType,
            ["few_shot_k"] = Options.FewShot,
            ["majority_baseline"] = MajorityBaseline,
            ["majority_baseline_global"] = MajorityBaselineGlobal,
            ["filter"] = new JsonObject
            {
                ["precision"] = m?.Precision, ["recall"] = m?.Recall, ["threshold"] = Curation.Threshold.Value,
                ["threshold_method"] = Curation.Threshold.Method, ["input"] = Curation.Input, ["kept"] = Curation.Kept,
                ["filtered_out"] = Curation.FilteredOut, ["injected_noise"] = m?.Noisy,
            },
            ["data"] = new JsonObject
            {
                ["pretrain_pairs"] = Synth.Pretrain.Count, ["noisy_pairs"] = Synth.Pretrain.Count(p => p.IsNoise),
                ["sft_conversations"] = Synth.Sft.Count, ["eval_questions"] = Synth.EvalQuestions.Count, ["eval_images"] = Synth.EvalImages.Count,
            },
            ["vision_tower"] = VisionTower is null ? null : new JsonObject
            {
                ["pairs"] = VisionTower.Pairs, ["epochs"] = VisionTower.EpochLosses.Count, ["final_loss"] = VisionTower.EpochLosses.LastOrDefault(),
                ["held_out_top1"] = VisionTower.HeldOutTop1, ["held_out_pairs"] = VisionTower.HeldOutCount, ["folder"] = VisionTower.Folder,
            },
            ["pack"] = Packed is null ? null : new JsonObject
            {
                ["samples"] = Packed.Samples, ["sequences"] = Packed.Sequences, ["capacity"] = Packed.Capacity, ["fill_ratio"] = Packed.FillRatio,
            },
            ["training"] = new JsonObject
            {
                ["pretrain_tokens_per_second"] = Pretrained?.TokensPerSecond, ["sft_tokens_per_second"] = Finetuned?.TokensPerSecond,
                ["pretrain_final_loss"] = Pretrained?.Losses.LastOrDefault(), ["sft_final_loss"] = Finetuned?.Losses.LastOrDefault(),
            },
            ["stage_seconds"] = stages,
            ["not_run"] = new JsonArray(NotRun.Select(n => (JsonNode)new JsonObject { ["stage"] = n.Stage, ["reason"] = n.Reason }).ToArray()),
            ["plots"] = new JsonArray(Plots.Select(p => (JsonNode)JsonValue.Create(p)!).ToArray()),
        };
    }

    public string ToMarkdown(string reportDir)
    {
        var inv = CultureInfo.InvariantCulture;
        string Pct(double? v) => v is { } x ? (100 * x).ToString("F1", inv) : "not run";
        var sb = new StringBuilder();
        sb.AppendLine("# OpenQwen2VL.NET demo report").AppendLine();
        sb.AppendLine($"Seed {Options.Seed}, {(Options.Quick ? "quick" : "default")} sizes, device {Options.Device}.").AppendLine();
        sb.AppendLine("## Data").AppendLine().AppendLine("| split | size |").AppendLine("|---|---|");
        sb.AppendLine($"| pre-training pairs | {Synth.Pretrain.Count} ({Synth.Pretrain.Count(p => p.IsNoise)} with injected wrong captions) |");
        sb.AppendLine($"| SFT conversations (LLaVA JSON) | {Synth.Sft.Count} |");
        sb.AppendLine($"| evaluation (VQAv2 JSON) | {Synth.EvalQuestions.Count} questions on {Synth.EvalImages.Count} images, 10 answers each |").AppendLine();
        var m = Curation.NoiseRemoval;
        sb.AppendLine("## Curation (dual-encoder filter)").AppendLine().AppendLine("| | value |").AppendLine("|---|---|");
        sb.AppendLine($"| input / kept / filtered out | {Curation.Input} / {Curation.Kept} / {Curation.FilteredOut} |");
        sb.AppendLine($"| threshold | {Curation.Threshold.Value.ToString("F4", inv)} ({Curation.Threshold.Method}) |");
        sb.AppendLine($"| noise removal precision | {Pct(m?.Precision)}% |");
        sb.AppendLine($"| noise removal recall | {Pct(m?.Recall)}% |");
        sb.AppendLine($"| filter training | {Curation.EpochLosses.Count} epochs, final loss {Curation.EpochLosses[^1].ToString("F4", inv)}, {Curation.TrainSeconds.ToString("F1", inv)} s |").AppendLine();
        sb.AppendLine("## Vision tower (tiny SigLIP, sigmoid loss: the demo's stand-in for the published SigLIP)").AppendLine();
        sb.AppendLine(VisionTower is not { } tower ? "Not run.\n"
            : $"{tower.Pairs} clean image-caption pairs, {tower.EpochLosses.Count} epochs, final loss {tower.EpochLosses.LastOrDefault().ToString("F4", inv)}, {tower.Seconds.ToString("F1", inv)} s. " +
              $"On {tower.HeldOutCount} held-out pairs, {Pct(tower.HeldOutTop1)}% of images score their own caption highest (chance {Pct(1.0 / Math.Max(1, tower.HeldOutCount))}%). " +
              (Options.SftTrainVision ? "Frozen in pre-training, trained in SFT.\n" : "Frozen in pre-training and SFT, as in the recipe.\n"));
        sb.AppendLine("## Packing").AppendLine();
        sb.AppendLine(Packed is null ? "Not run.\n" : $"{Packed.Samples} samples into {Packed.Sequences} sequences of {Packed.Capacity} tokens, fill {Pct(Packed.FillRatio)}%.\n");
        sb.AppendLine("## Training").AppendLine().AppendLine("| stage | final loss | tokens/s | seconds |").AppendLine("|---|---|---|---|");
        foreach (var (name, t) in new[] { ("pre-training", Pretrained), ("SFT", Finetuned) })
            sb.AppendLine(t is null ? $"| {name} | not run | | |" : $"| {name} | {t.Losses.LastOrDefault().ToString("F4", inv)} | {t.TokensPerSecond.ToString("F0", inv)} | {t.Seconds.ToString("F1", inv)} |");
        sb.AppendLine().AppendLine("## VQA accuracy (official VQAv2 metric, %)").AppendLine().AppendLine("| model | 0-shot | " + Options.FewShot + "-shot |").AppendLine("|---|---|---|");
        sb.AppendLine($"| after pre-training | {Pct(Vqa["zero_shot_pretrain"]?.Accuracy)} | {Pct(Vqa["few_shot_pretrain"]?.Accuracy)} |");
        sb.AppendLine($"| after SFT | {Pct(Vqa["zero_shot_sft"]?.Accuracy)} | {Pct(Vqa["few_shot_sft"]?.Accuracy)} |");
        sb.AppendLine($"| majority answer per question type (baseline) | {Pct(MajorityBaseline)} | |");
        sb.AppendLine($"| majority answer overall | {Pct(MajorityBaselineGlobal)} | |").AppendLine();
        // Per question type: where a model is strong or blind shows here, not in the mean.
        var measured = Vqa.Where(p => p.Value is not null).ToList();
        if (measured.Count > 0)
        {
            var types = measured.SelectMany(p => p.Value!.AccuracyByQuestionType.Keys).Distinct().Order(StringComparer.Ordinal).ToList();
            sb.AppendLine("| evaluation | " + string.Join(" | ", types) + " |").AppendLine("|---|" + string.Concat(types.Select(_ => "---|")));
            foreach (var (key, r) in measured)
                sb.AppendLine($"| {key} | " + string.Join(" | ", types.Select(t => r!.AccuracyByQuestionType.TryGetValue(t, out var a) ? Pct(a) : "")) + " |");
            sb.AppendLine();
        }
        // The answers of the best evaluation (usually the instruction-tuned model), with the images asked about.
        if (Vqa.Values.Where(v => v is not null).MaxBy(v => v!.Accuracy) is { } shown)
        {
            sb.AppendLine($"### Generated answers ({shown.Name})").AppendLine();
            foreach (var e in shown.Examples)
                sb.AppendLine($"- ![]({Rel(reportDir, e.Item.ImagePath)}) **Q:** {e.Item.Question} **A:** {e.Answer} (reference {e.Item.MultipleChoiceAnswer}, accuracy {e.Accuracy.ToString("F2", inv)})");
            sb.AppendLine();
        }
        if (NotRun.Count > 0)
        {
            sb.AppendLine("## Stages not run").AppendLine();
            foreach (var n in NotRun) sb.AppendLine($"- {n.Stage}: {n.Reason}");
            sb.AppendLine();
        }
        sb.AppendLine("## Time per stage").AppendLine().AppendLine("| stage | seconds |").AppendLine("|---|---|");
        foreach (var (k, v) in StageSeconds) sb.AppendLine($"| {k} | {v.ToString("F1", inv)} |");
        sb.AppendLine().AppendLine("## Plots").AppendLine();
        foreach (var p in Plots) sb.AppendLine($"![]({Rel(reportDir, p)})");
        sb.AppendLine().AppendLine("## Reproduce at full scale").AppendLine();
        sb.AppendLine("The same stages with real data and checkpoints (SigLIP-SO400M/14-384 + Qwen2.5-1.5B-Instruct, the paper's sizes):").AppendLine().AppendLine("```");
        sb.AppendLine("# 0. vision: the published SigLIP (google/siglip-so400m-patch14-384) takes the place of the demo's tower");
        sb.AppendLine("# 1. curate: keep the best-scoring image-text pairs (writes curated/manifest.json)");
        sb.AppendLine("oqvl curate --input datacomp/ --out curated --keep-fraction 0.3");
        sb.AppendLine("# 2. pack: 4096-token sequences, 144 visual tokens per image");
        sb.AppendLine("oqvl pack --input curated --tokenizer Qwen2.5-1.5B-Instruct/tokenizer.json --out packed --capacity 4096 --visual-tokens 144");
        sb.AppendLine("# 3. pre-train: vision frozen, 12x12 pooled visual tokens, a new projector");
        sb.AppendLine("oqvl train --stage pretrain --llm Qwen2.5-1.5B-Instruct --vision siglip-so400m-patch14-384 --data packed --out runs/pretrain --device cuda");
        sb.AppendLine("# 4. SFT: the full 27x27 grid through the same projector (the low-to-high switch)");
        sb.AppendLine("oqvl train --stage sft --model runs/pretrain --data 'sft:llava_v1_5_mix665k.json,llava_images' --out runs/sft --device cuda");
        sb.AppendLine("# 5. VQAv2 accuracy (official metric) of the fine-tuned model, zero-shot (its prompt format comes from its manifest)");
        sb.AppendLine("oqvl evaluate --questions v2_OpenEnded_mscoco_val2014_questions.json --annotations v2_mscoco_val2014_annotations.json \\");
        sb.AppendLine("  --images val2014 --image-pattern 'COCO_val2014_{0:D12}.jpg' --model runs/sft --dtype bf16 --device cuda --out eval/sft-0shot");
        sb.AppendLine("# ... and of the pre-trained base model, 8-shot with plain prompts (the paper's in-context setting)");
        sb.AppendLine("oqvl evaluate ... --model runs/pretrain --shots 8 --out eval/pretrain-8shot");
        sb.AppendLine("# this demo again");
        sb.AppendLine($"oqvl demo --out {Path.GetFileName(Path.GetFullPath(reportDir))} --seed {Options.Seed}{(Options.Quick ? " --quick" : "")}" +
            $"{(Options.PretrainStepsOverride is int ps ? $" --pretrain-steps {ps}" : "")}{(Options.SftStepsOverride is int ss ? $" --sft-steps {ss}" : "")}");
        sb.AppendLine("```");
        return sb.ToString();
    }

    private static string Rel(string dir, string path) => Path.GetRelativePath(dir, path).Replace('\\', '/');

    public void Write(string dir)
    {
        AtomicFile.WriteAllText(Path.Combine(dir, "report.json"), ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        AtomicFile.WriteAllText(Path.Combine(dir, "report.md"), ToMarkdown(dir));
    }
}
