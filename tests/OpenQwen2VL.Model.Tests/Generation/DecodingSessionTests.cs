using OpenQwen2VL.Model.Generation;
using OpenQwen2VL.Model.Qwen2;
using OpenQwen2VL.Model.Siglip;
using OpenQwen2VL.Model.Vlm;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Generation;

/// <summary>
/// Issue 14, continuous batching: a sequence's tokens do not depend on what else is in the session (others joining and
/// leaving mid-way, with images or not, greedy or seeded sampling), they equal the batched generation's, a released slot
/// is free at once, and a session leaves no live tensors.
/// </summary>
[Collection(TorchGlobalState.Name)]
public sealed class DecodingSessionTests : IDisposable
{
    private const long M = VlmBatch.ImageMarker;
    private const int NewTokens = 10;

    private readonly TinyGenerationModel model = new(maxPositions: 64);
    private VisionLanguageModel vlm => model.Vlm;
    private Tensor pixels => model.Pixels;

    public void Dispose() => model.Dispose();

    /// <summary>Prompts of 0, 1 and 2 images and very different lengths.</summary>
    private GenerationPrompt[] Prompts() =>
    [
        new([2, M, 3, 4, 9, 11, 6, 8, 12], pixels.narrow(0, 0, 1)),
        new([1, 5, 7]),
        new([M, 8, M, 10], pixels.narrow(0, 1, 2)),
        new([13]),
    ];

    private static void DisposePrompts(GenerationPrompt[] prompts)
    {
        foreach (var p in prompts) p.Pixels?.Dispose();
    }

    private int Add(DecodingSession session, GenerationPrompt prompt, GenerationOptions options)
    {
        using var embeds = vlm.PromptEmbeds(prompt);
        return session.Add(embeds, options, prompt.Stop, prompt.Ids.Where(t => t >= 0).ToArray());
    }

    /// <summary>
    /// The tokens reported to each sequence (labelled by <paramref name="labels"/>: slot to sequence, kept up to date by
    /// <paramref name="between"/>, which runs before every step with its number), stepping until <paramref name="until"/> finishes.
    /// </summary>
    private static Dictionary<string, List<long>> Run(DecodingSession session, Dictionary<int, string> labels, string until, Action<int>? between = null)
    {
        var tokens = new Dictionary<string, List<long>>();
        bool done = false;
        for (int step = 0; !done; step++)
        {
            between?.Invoke(step);
            foreach (var t in session.Step())
            {
                string label = labels[t.Slot];
                if (!tokens.TryGetValue(label, out var list)) tokens[label] = list = [];
                list.Add(t.Id);
                if (label == until && t.Finished) done = true;
            }
        }
        return tokens;
    }

    private long[] Alone(GenerationPrompt prompt, GenerationOptions options)
    {
        using var session = new DecodingSession(vlm.Llm, 1);
        var labels = new Dictionary<int, string> { [Add(session, prompt, options)] = "alone" };
        return [.. Run(session, labels, "alone")["alone"]];
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ASequenceGetsItsSoloTokensWhileOthersJoinAndLeave(bool sample)
    {
        var prompts = Prompts();
        var options = sample
            ? new GenerationOptions { MaxNewTokens = NewTokens, Sample = true, Temperature = 1.5, TopP = 0.95, RepetitionPenalty = 1.2, Seed = 5 }
            : GenerationOptions.Greedy(NewTokens);
        var alone = Alone(prompts[0], options);
        var othersAlone = prompts.Skip(1).Select(p => Alone(p, GenerationOptions.Greedy(3))).ToArray();

        using var session = new DecodingSession(vlm.Llm, 3);
        var labels = new Dictionary<int, string> { [Add(session, prompts[0], options)] = "watched" };
        string? released = null;
        var tokens = Run(session, labels, "watched", step =>
        {
            // Three tokens each: p1 joins at step 2 and leaves after step 4, p2 joins at step 4 (the slots are full then),
            // p3 at step 5 (into the slot p1 left) and is dropped at step 6 after one token.
            if (step == 2) labels[Add(session, prompts[1], GenerationOptions.Greedy(3))] = "p1";
            if (step == 4)
            {
                labels[Add(session, prompts[2], GenerationOptions.Greedy(3))] = "p2";
                Assert.False(session.HasFreeSlot);
            }
            if (step == 5) labels[Add(session, prompts[3], GenerationOptions.Greedy(3))] = "p3";
            if (step == 6)
            {
                int slot = labels.Single(l => l.Value == "p3").Key;
                session.Release(slot);
                released = labels[slot];
            }
        });
        DisposePrompts(prompts);

        Assert.Equal(NewTokens, alone.Length);
        Assert.Equal(alone, tokens["watched"]);
        if (!sample)
        {
            // The batched generation (evaluation's path) gives the same tokens.
            var again = Prompts();
            var batched = vlm.Generate([again[0]], options)[0];
            DisposePrompts(again);
            Assert.Equal(batched, alone);
        }
        Assert.Equal("p3", released);
        Assert.Equal(othersAlone[0], tokens["p1"]);
        Assert.Equal(othersAlone[1], tokens["p2"]);
        Assert.Equal(othersAlone[2].Take(1), tokens["p3"]);
        Assert.Equal(0, session.Active);
    }

    [Fact]
    public void ASlotEndsAtItsStopTokenAndAReleasedSlotIsFreeAtOnce()
    {
        var prompts = Prompts();
        var free = Alone(prompts[1], GenerationOptions.Greedy(NewTokens));
        using var session = new DecodingSession(vlm.Llm, 2);
        int stopping = Add(session, prompts[1] with { Stop = new StopCriteria([free[2]]) }, GenerationOptions.Greedy(NewTokens));
        int dropped = Add(session, prompts[0], GenerationOptions.Greedy(NewTokens));
        Assert.False(session.HasFreeSlot);
        Assert.Throws<InvalidOperationException>(() => Add(session, prompts[3], GenerationOptions.Greedy(2)));
        var reported = new List<DecodedToken>(session.Step());
        session.Release(dropped);
        Assert.True(session.HasFreeSlot);
        while (session.Active > 0) reported.AddRange(session.Step());
        DisposePrompts(prompts);
        Assert.Single(reported, t => t.Slot == dropped);
        var stopped = reported.Where(t => t.Slot == stopping).ToList();
        int expected = Array.IndexOf(free, free[2]) + 1;
        Assert.Equal(free.Take(expected), stopped.Select(t => t.Id));
        Assert.True(stopped[^1].Finished);
        Assert.All(stopped.SkipLast(1), t => Assert.False(t.Finished));
    }

    [Fact]
    public void APromptWithoutRoomIsRefused()
    {
        using var session = new DecodingSession(vlm.Llm, 1);
        using var embeds = vlm.Llm.Embed(zeros(1, vlm.Config.Llm.MaxPositionEmbeddings, dtype: ScalarType.Int64));
        Assert.Throws<PromptTooLongException>(() => session.Add(embeds, GenerationOptions.Greedy(4)));
        Assert.True(session.HasFreeSlot);
    }

    [Fact]
    public void ASessionLeavesNoLiveTensors()
    {
        var prompts = Prompts();
        var sampled = new GenerationOptions { MaxNewTokens = 4, Sample = true, TopK = 5, RepetitionPenalty = 1.3, Seed = 2 };
        void Once()
        {
            using var session = new DecodingSession(vlm.Llm, 2);
            Add(session, prompts[0], sampled);
            session.Step();
            Add(session, prompts[2], GenerationOptions.Greedy(6));
            while (session.Active > 0) session.Step();
        }
        Once(); // warm-up (lazy initialisation)
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Once();
        long after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        DisposePrompts(prompts);
        Assert.Equal(before, after);
    }
}
