namespace OpenQwen2VL.Evaluation.Vqa;

/// <summary>
/// Whatever answers a prompt: a VLM with greedy decoding (max 16 new tokens), or a baseline. The evaluation
/// does not depend on the model; the model side tokenizes the text and loads the images.
/// </summary>
public interface IVqaAnswerGenerator
{
    string Name { get; }

    string Generate(VqaPrompt prompt);

    /// <summary>
    /// Answers several prompts at once (a model batches them; the default asks one at a time). A prompt that cannot be
    /// asked (an unreadable image, too long for the model) is an attempt holding that exception, the others still answer.
    /// </summary>
    IReadOnlyList<VqaAnswerAttempt> GenerateBatch(IReadOnlyList<VqaPrompt> prompts) =>
        prompts.Select(p => VqaAnswerAttempt.Try(() => Generate(p))).ToArray();
}

/// <summary>An <see cref="IVqaAnswerGenerator"/> from a function (handy for wiring a model and for tests).</summary>
public sealed class DelegateAnswerGenerator(string name, Func<VqaPrompt, string> generate) : IVqaAnswerGenerator
{
    public string Name { get; } = name;

    public string Generate(VqaPrompt prompt) => generate(prompt);
}
