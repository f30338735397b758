using System.Text.RegularExpressions;
using OpenQwen2VL.Synthetic;
using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Data.Tokenization;
using OpenQwen2VL.Demo;
using OpenQwen2VL.Evaluation.Vqa;
using OpenQwen2VL.Model.Vlm;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Demo;

/// <summary>
/// The chat-style evaluation prompt must be, token for token, what SFT trained the model on up to the reply:
/// a model cannot answer a prompt it has never seen in that form.
/// </summary>
[Collection(TorchGlobalState.Name)]
public class SftEvalPromptAgreementTests
{
    [Fact]
    public void ZeroShotChatPromptEqualsTheSftSampleUpToTheReply()
    {
        using var dir = new TempDir();
        string tokenizerPath = Path.Combine(ReferenceFixtures.Dir, "tokenizer.json");
        var tokenizer = BpeTokenizer.Load(tokenizerPath);
        var data = SyntheticDatasetGenerator.Generate(new SyntheticDatasetOptions { Seed = 3, PretrainPairs = 2, SftRecords = 6, EvalImages = 1 });
        var layout = SyntheticDatasetWriter.Write(data, dir.Path);
        // The SFT training path: LLaVA JSON → ChatML with loss on the replies.
        var reader = new LlavaSftReader(new ChatMlPromptBuilder(tokenizer), layout.SftImageRoot, contextLength: null, visualTokensPerImage: 4);
        var samples = reader.Read(layout.SftJson, new SampleStats()).ToArray();
        Assert.Equal(data.Sft.Count, samples.Length);

        using var vlm = new VisionLanguageModel(VlmConfig.Tiny(tokenizer.VocabSize));
        var generator = new VlmAnswerGenerator("sft", vlm, tokenizer, OpenQwen2VL.Data.Images.ImagePreprocessor.ResizeNaive(56), prependBos: false);
        int compared = 0;
        for (int i = 0; i < samples.Length; i++)
        {
            string firstUserTurn = data.Sft[i].Conversations[0].Value;
            string question = Regex.Match(firstUserTurn, "Question: (.*)\n").Groups[1].Value;
            if (question.Length == 0) continue; // a caption request, not a VQA question
            compared++;
            var item = new VqaItem(1, 1, "unused.jpg", question, "t", "other", "a", ["a"]);
            var prompt = new VqaPromptBuilder([item], 0, 7, VqaPromptStyle.Chat).Build(item);
            long[] evalIds = generator.PromptIds(prompt);

            var tokens = samples[i].Tokens;
            int replyStart = Array.FindIndex(tokens.Labels, l => l != MultimodalTokens.IgnoreLabel);
            Assert.True(replyStart > 0);
            Assert.Equal(tokens.InputIds[..replyStart].Select(t => (long)t), evalIds);
        }
        Assert.True(compared >= 4);
    }
}
