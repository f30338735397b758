using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace OpenQwen2VL.Synthetic;

/// <summary>
/// Generates the pre-training pairs (with a known set of mismatched captions), the SFT conversations and
/// the evaluation questions from one seed. Each split draws from its own random stream, so changing the
/// size of one split does not change the others.
/// </summary>
public static class SyntheticDatasetGenerator
{
    /// <summary>The instruction LLaVA-style short-answer VQA data appends to a question (also used by the evaluation prompt).</summary>
    public const string ShortAnswerInstruction = "Answer the question using a single word or phrase.";

    public static SyntheticDataset Generate(SyntheticDatasetOptions options, IProgress<int>? progress = null)
    {
        options.Validate();
        var pretrain = GeneratePretrain(options, progress);
        var sft = GenerateSft(options);
        var (images, questions) = GenerateEval(options);
        return new SyntheticDataset(options, pretrain, sft, images, questions);
    }

    private static Random Stream(int seed, int split) => new(unchecked(seed * 7919 + split * 104729));

    private static IReadOnlyList<PretrainPair> GeneratePretrain(SyntheticDatasetOptions o, IProgress<int>? progress)
    {
        var rng = Stream(o.Seed, 1);
        int n = o.PretrainPairs;
        var scenes = new Scene[n];
        var captions = new string[n];
        for (int i = 0; i < n; i++)
        {
            scenes[i] = SceneSampler.Sample(rng);
            captions[i] = CaptionTemplates.Caption(scenes[i], rng);
        }
        // Exactly round(n * fraction) pairs become noise: a caption of a fresh scene that contradicts the image.
        var order = Enumerable.Range(0, n).ToArray();
        rng.Shuffle(order);
        var noisy = new HashSet<int>(order.Take((int)Math.Round(n * o.NoiseFraction)));
        var pairs = new PretrainPair[n];
        for (int i = 0; i < n; i++)
        {
            string caption = captions[i];
            if (noisy.Contains(i))
            {
                Scene other;
                do other = SceneSampler.Sample(rng); while (!scenes[i].ContradictsInColorOrShape(other));
                caption = CaptionTemplates.Caption(other, rng);
            }
            string key = string.Create(CultureInfo.InvariantCulture, $"{i / o.SamplesPerShard:D5}{i % o.SamplesPerShard:D4}");
            pairs[i] = new PretrainPair(key, Uid(o.Seed, "pretrain", i), scenes[i], caption, captions[i], noisy.Contains(i),
                SceneRenderer.RenderJpeg(scenes[i], o.ImageSize));
            progress?.Report(i + 1);
        }
        return pairs;
    }

    /// <summary>Exchanges (each about its own image) in a multi-image conversation.</summary>
    public const int SftChatExchanges = 3;

    /// <summary>
    /// Records cycle in tens: seven one-question records, two multi-image conversations of
    /// <see cref="SftChatExchanges"/> questions each about a new image (the layout of a chat-style few-shot prompt, so
    /// the model has seen earlier exchanges with their own images before the question it must answer), and one
    /// caption request (one in five cost the demo 14 points of VQA accuracy: captions are long and not asked for).
    /// Question types go round-robin, so they stay balanced. A conversation never asks twice about one image,
    /// because these questions name the scene's other attributes ("What shape are the purple objects?"): a later
    /// answer could be copied from an earlier question, and a tiny model learns that shortcut instead of looking.
    /// </summary>
    private static IReadOnlyList<SftRecord> GenerateSft(SyntheticDatasetOptions o)
    {
        var rng = Stream(o.Seed, 2);
        var records = new SftRecord[o.SftRecords];
        var types = Enum.GetValues<VqaQuestionType>();
        int asked = 0, imageIndex = 0;
        SftImage NewImage(Scene scene) =>
            new(string.Create(CultureInfo.InvariantCulture, $"synth-sft-{imageIndex++:D6}.jpg"), SceneRenderer.RenderJpeg(scene, o.ImageSize));
        IEnumerable<ConversationTurn> Question(Scene scene)
        {
            var q = VqaQuestionTemplates.Ask(scene, types[asked++ % types.Length], rng);
            return [new("human", $"<image>\nQuestion: {q.Question}\n{ShortAnswerInstruction}"), new("gpt", q.Answer)];
        }
        for (int i = 0; i < records.Length; i++)
        {
            var images = new List<SftImage>();
            var turns = new List<ConversationTurn>();
            int exchanges = i % 10 is 3 or 8 ? SftChatExchanges : 1;
            for (int e = 0; e < exchanges; e++)
            {
                var scene = SceneSampler.Sample(rng);
                images.Add(NewImage(scene));
                turns.AddRange(i % 10 == 9
                    ? [new("human", "<image>\nDescribe the image briefly."), new("gpt", CaptionTemplates.Caption(scene, rng))]
                    : Question(scene));
            }
            records[i] = new SftRecord(string.Create(CultureInfo.InvariantCulture, $"synth-sft-{i:D6}"), images, turns);
        }
        return records;
    }

    private static (IReadOnlyList<EvalImage>, IReadOnlyList<EvalQuestion>) GenerateEval(SyntheticDatasetOptions o)
    {
        var rng = Stream(o.Seed, 3);
        var types = Enum.GetValues<VqaQuestionType>();
        var images = new List<EvalImage>();
        var questions = new List<EvalQuestion>();
        int asked = 0;
        for (int i = 0; i < o.EvalImages; i++)
        {
            int imageId = i + 1;
            var scene = SceneSampler.Sample(rng);
            images.Add(new EvalImage(imageId, string.Create(CultureInfo.InvariantCulture, $"{imageId:D12}.jpg"), scene,
                SceneRenderer.RenderJpeg(scene, o.ImageSize)));
            for (int k = 0; k < o.QuestionsPerEvalImage; k++, asked++)
            {
                // Round-robin over all questions: the types are balanced and distinct within one image.
                var q = VqaQuestionTemplates.Ask(scene, types[asked % types.Length], rng);
                questions.Add(new EvalQuestion(imageId * 10 + k, imageId, q, AnnotatorSimulator.Answers(q, rng, o.AnnotatorDisagreement)));
            }
        }
        return (images, questions);
    }

    /// <summary>A DataComp-style uid: 32 hex digits, a pure function of seed, split and index.</summary>
    public static string Uid(int seed, string split, int index)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{seed}:{split}:{index}")));
        return Convert.ToHexStringLower(hash.AsSpan(0, 16));
    }
}
