using System.Text.Json;
using OpenQwen2VL.Synthetic;
using OpenQwen2VL.Evaluation.Vqa;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Evaluation;

public class VqaEvaluationRunnerTests
{
    private static (TempDir Dir, VqaDataset Data) SyntheticSplit(int seed = 2)
    {
        var dir = new TempDir();
        var options = new SyntheticDatasetOptions { Seed = seed, PretrainPairs = 4, SftRecords = 0, EvalImages = 12, QuestionsPerEvalImage = 4, ImageSize = 32 };
        var layout = SyntheticDatasetWriter.Write(SyntheticDatasetGenerator.Generate(options), dir.Path);
        return (dir, VqaDataset.Load(layout.EvalQuestions, layout.EvalAnnotations, layout.EvalImageRoot));
    }

    [Fact]
    public void LoadsTheSynthSplit_AndCountsMissingImages()
    {
        var (dir, data) = SyntheticSplit();
        using (dir)
        {
            Assert.Equal(48, data.Items.Count);
            Assert.All(data.Items, i => Assert.Equal(10, i.Answers.Count));
            File.Delete(data.Items[0].ImagePath); // the image of the first image's 4 questions
            var layout = new SyntheticDatasetLayout(dir.Path);
            var reloaded = VqaDataset.Load(layout.EvalQuestions, layout.EvalAnnotations, layout.EvalImageRoot);
            Assert.Equal(44, reloaded.Items.Count);
            Assert.Equal(4, reloaded.Skipped["image_missing"]);
            Assert.Equal(reloaded.QuestionsRead, reloaded.Items.Count + reloaded.Skipped.Values.Sum());
        }
    }

    [Fact]
    public void ScoresWhatTheGeneratorSays_AndWritesPredictions()
    {
        var (dir, data) = SyntheticSplit();
        using (dir)
        {
            // A generator that answers right for colour questions only, with chatter after the answer.
            var byId = data.Items.ToDictionary(i => i.QuestionId);
            var gen = new DelegateAnswerGenerator("colour-only", p =>
            {
                var item = byId[p.QueryQuestionId];
                return (item.QuestionType == "color" ? item.MultipleChoiceAnswer : "banana") + "\nmore text";
            });
            var result = VqaEvaluationRunner.Run(data, gen, new VqaEvaluationOptions { Name = "t", Shots = 2 }, dir.Path);
            double expected = data.Items.Average(i => i.QuestionType == "color" ? VqaAccuracy.Score(i.MultipleChoiceAnswer, i.Answers) : 0.0);
            Assert.Equal(expected, result.Accuracy, 12);
            Assert.Equal(0.0, result.AccuracyByQuestionType["shape"]);
            Assert.True(result.AccuracyByQuestionType["color"] > 0.8);
            var lines = File.ReadAllLines(Path.Combine(dir.Path, "t_predictions.jsonl"));
            Assert.Equal(data.Items.Count, lines.Length);
            using var first = JsonDocument.Parse(lines[0]);
            Assert.Equal(2, first.RootElement.GetProperty("shots").GetArrayLength());
            using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir.Path, "t_summary.json")));
            Assert.Equal(result.Accuracy, summary.RootElement.GetProperty("accuracy").GetDouble(), 12);
        }
    }

    [Fact]
    public void ReferenceShotSelectionGivesEveryQuestionTheSameDemonstrations_AndIsRecorded()
    {
        var (dir, data) = SyntheticSplit();
        using (dir)
        {
            var gen = new DelegateAnswerGenerator("echo", _ => "red");
            var options = new VqaEvaluationOptions { Name = "r", Shots = 3, Seed = 21, ShotSelection = ShotSelection.Reference };
            var result = VqaEvaluationRunner.Run(data, gen, options, dir.Path);
            var draws = result.Predictions.Select(p => string.Join(",", p.DemonstrationQuestionIds)).Distinct().ToArray();
            Assert.Single(draws);
            Assert.Equal(3, result.Predictions[0].DemonstrationQuestionIds.Count);
            using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir.Path, "r_summary.json")));
            Assert.Equal("reference", summary.RootElement.GetProperty("shot_selection").GetString());
            Assert.Equal(21, summary.RootElement.GetProperty("seed").GetInt32());
            Assert.Equal(3, summary.RootElement.GetProperty("shots").GetInt32());
        }
    }

    [Fact]
    public void MajorityBaselinesRunThroughTheRunner()
    {
        var (dir, data) = SyntheticSplit(5);
        using (dir)
        {
            foreach (bool perType in new[] { false, true })
            {
                var baseline = new MajorityAnswerBaseline(data.Items, perType);
                var r = VqaEvaluationRunner.Run(data, baseline.AsGenerator(data.Items), new VqaEvaluationOptions());
                Assert.Equal(baseline.Accuracy(data.Items), r.Accuracy, 12);
                // One answer per type can only be right on its own type's questions.
                Assert.True(r.Accuracy < (perType ? 1.0 : 0.26));
            }
            var global = new MajorityAnswerBaseline(data.Items, false).Accuracy(data.Items);
            var typed = new MajorityAnswerBaseline(data.Items, true).Accuracy(data.Items);
            Assert.True(typed >= global);
        }
    }

    [Theory]
    [InlineData(" red\nQuestion: x", "red")]
    [InlineData("blue<|endofchunk|><image>", "blue")]
    [InlineData("2<|im_end|>", "2")]
    [InlineData("  left  ", "left")]
    public void CutAnswerKeepsTheFirstLine(string generated, string expected) =>
        Assert.Equal(expected, VqaEvaluationRunner.CutAnswer(generated));
}
