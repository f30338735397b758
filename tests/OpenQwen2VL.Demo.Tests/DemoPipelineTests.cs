using OpenQwen2VL.Synthetic;
using System.Text.Json;
using OpenQwen2VL.Demo;
using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Evaluation.Vqa;
using OpenQwen2VL.Model.Checkpoints;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Demo;

[Collection(TorchGlobalState.Name)]
public class DemoPipelineTests
{
    private static string Tokenizer => Path.Combine(ReferenceFixtures.Dir, "tokenizer.json");

    [Fact]
    public void QuickDemoReportsNumbersFromTheRun_OtherSeedOtherNumbers()
    {
        using var dir = new TempDir();
        var reports = new List<JsonDocument>();
        foreach (int seed in new[] { 1, 2 })
        {
            string outDir = Path.Combine(dir.Path, $"seed{seed}");
            // Quick sizes with a few optimiser steps and questions: every stage runs for real, the suite stays fast.
            var report = new DemoPipeline().Run(new DemoOptions
            {
                OutputDir = outDir, Quick = true, Seed = seed, TokenizerPath = Tokenizer,
                PretrainStepsOverride = 3, SftStepsOverride = 3, EvalLimit = 6,
            });
            var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "report.json")));
            reports.Add(json);
            var root = json.RootElement;
            Assert.True(File.Exists(Path.Combine(outDir, "report.md")));
            foreach (var stage in DemoPipeline.StageNames) Assert.True(root.GetProperty("stage_seconds").GetProperty(stage).GetDouble() >= 0);
            foreach (var stage in new[] { "synth", "curate", "vision", "pack", "pretrain", "sft", "evaluate" })
                Assert.True(root.GetProperty("stage_seconds").GetProperty(stage).GetDouble() > 0, stage);
            Assert.Empty(root.GetProperty("not_run").EnumerateArray());

            // Every accuracy was measured, and is the one the evaluation's summary file holds.
            foreach (var key in new[] { "zero_shot_pretrain", "few_shot_pretrain", "zero_shot_sft", "few_shot_sft" })
            {
                double accuracy = root.GetProperty("vqa_accuracy").GetProperty(key).GetDouble();
                Assert.InRange(accuracy, 0, 1);
                using var evalSummary = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "eval", $"{key}_summary.json")));
                Assert.Equal(accuracy, evalSummary.RootElement.GetProperty("accuracy").GetDouble(), 12);
                Assert.Equal(6, evalSummary.RootElement.GetProperty("questions").GetInt32());
                var byType = root.GetProperty("vqa_accuracy_by_question_type").GetProperty(key).EnumerateObject().ToArray();
                Assert.NotEmpty(byType);
                foreach (var t in byType)
                    Assert.Equal(evalSummary.RootElement.GetProperty("accuracy_by_question_type").GetProperty(t.Name).GetDouble(), t.Value.GetDouble(), 12);
            }

            // Both trainings ran their steps, wrote final weights, and the report's losses are their metrics.jsonl.
            foreach (var (model, run) in new[] { (report.Pretrained!, "pretrain"), (report.Finetuned!, "sft") })
            {
                Assert.Equal(3, model.Losses.Count);
                Assert.All(model.Losses, l => Assert.True(double.IsFinite(l) && l > 0));
                var lines = File.ReadAllLines(Path.Combine(outDir, "work", run, "metrics.jsonl"));
                Assert.Equal(model.Losses[^1], JsonDocument.Parse(lines[^1]).RootElement.GetProperty("loss").GetDouble(), 9);
                foreach (var f in new[] { "manifest.json", "llm/model.safetensors", "llm/config.json", "llm/tokenizer.json", "vision/model.safetensors", "vision/config.json", "projector.safetensors" })
                    Assert.True(File.Exists(Path.Combine(model.RunDir, "final", f)), f);
                Assert.True(File.Exists(model.LossPlotPng));
            }
            // The pre-trained tower is the VLM's vision, byte for byte, through both (frozen) stages: every backbone
            // tensor comes from the tower file, whose extra tensors are only the last block, post-layernorm and head.
            var tower = root.GetProperty("vision_tower");
            Assert.InRange(tower.GetProperty("held_out_top1").GetDouble(), 0, 1);
            using (var towerFile = SafetensorsCheckpoint.Open(report.VisionTower!.Folder))
            {
                var towerTensors = new SafetensorsCheckpointTensors(towerFile);
                foreach (var model in new[] { report.Pretrained!, report.Finetuned! })
                {
                    using var vlmFile = SafetensorsCheckpoint.Open(Path.Combine(model.RunDir, "final", "vision"));
                    var vlmTensors = new SafetensorsCheckpointTensors(vlmFile);
                    Assert.NotEmpty(vlmTensors.Names);
                    foreach (var name in vlmTensors.Names)
                    {
                        using var a = towerTensors.Read(name);
                        using var b = vlmTensors.Read(name);
                        Assert.Equal(a.shape, b.shape);
                        Assert.True(a.eq(b).all().item<bool>(), name);
                    }
                    int lastBlock = OpenQwen2VL.Model.Vlm.VlmConfig.Tiny(2).Vision.NumHiddenLayers - 1;
                    Assert.All(towerTensors.Names.Except(vlmTensors.Names), n =>
                        Assert.True(n.Contains($".layers.{lastBlock}.") || n.Contains(".post_layernorm.") || n.Contains(".head."), n));
                }
            }

            // Packing read every kept pair, and the report's pack numbers are the pack job's own stats.
            using var packStats = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "work", "packed", "stats.json")));
            Assert.Equal(report.Curation.Kept, packStats.RootElement.GetProperty("input_samples").GetInt64());
            Assert.Equal(report.Packed!.Sequences, packStats.RootElement.GetProperty("packs").GetInt64());

            // The baseline in the report is the one the evaluation files give.
            var layout = new OpenQwen2VL.Synthetic.SyntheticDatasetLayout(Path.Combine(outDir, "data"));
            var eval = VqaDataset.Load(layout.EvalQuestions, layout.EvalAnnotations, layout.EvalImageRoot);
            double baseline = new MajorityAnswerBaseline(eval.Items, perQuestionType: true).Accuracy(eval.Items);
            Assert.Equal(baseline, root.GetProperty("majority_baseline").GetDouble(), 12);
            using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "eval", "majority_baseline_summary.json")));
            Assert.Equal(baseline, summary.RootElement.GetProperty("accuracy").GetDouble(), 12);

            // Filter numbers agree with the curation stats written by that stage.
            using var stats = JsonDocument.Parse(File.ReadAllText(report.Curation.StatsJson));
            var filter = root.GetProperty("filter");
            Assert.Equal(stats.RootElement.GetProperty("noise_removal").GetProperty("precision").GetDouble(), filter.GetProperty("precision").GetDouble(), 12);
            Assert.InRange(filter.GetProperty("recall").GetDouble(), 0, 1);
            Assert.Equal(report.Curation.Input, report.Curation.Kept + report.Curation.FilteredOut + report.Curation.Skipped.Values.Sum());
            Assert.True(root.GetProperty("pack").GetProperty("fill_ratio").GetDouble() is > 0 and <= 1);
        }
        Assert.NotEqual(reports[0].RootElement.GetProperty("filter").GetProperty("threshold").GetDouble(),
            reports[1].RootElement.GetProperty("filter").GetProperty("threshold").GetDouble());
        Assert.NotEqual(reports[0].RootElement.GetProperty("majority_baseline").GetDouble(), reports[1].RootElement.GetProperty("majority_baseline").GetDouble());
        Assert.NotEqual(reports[0].RootElement.GetProperty("training").GetProperty("pretrain_final_loss").GetDouble(),
            reports[1].RootElement.GetProperty("training").GetProperty("pretrain_final_loss").GetDouble());
        foreach (var r in reports) r.Dispose();
    }
}
