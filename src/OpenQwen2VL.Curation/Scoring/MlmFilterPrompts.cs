namespace OpenQwen2VL.Curation.Scoring;

/// <summary>
/// MLM-Filter's prompt, byte for byte as the reference scorer builds it (Victorwz/MLM_Filter,
/// <c>mlm_filter_scoring_datacomp_batch_inference_v2.py</c>, with LLaVA-Unified's <c>qwen_instruct</c> conversation):
/// the model was fine-tuned on these texts, so any difference changes its ratings. The instruction is
/// <c>Text Caption: {caption}</c>, the metric's criteria and the request for a score on the first line; the
/// conversation wraps it as system, user (<c>&lt;image&gt;\n</c> + instruction) and the assistant's opening, with
/// <c>&lt;|im_end|&gt;</c> between turns and no newline after it (the template's MPT separator style). The reference
/// then appends a space token to the ids (see <see cref="MlmFilterPairScorer"/>).
/// </summary>
public static class MlmFilterPrompts
{
    public const string SystemTurn = "<|im_start|>system\nYou are a helpful assistant";
    public const string UserRole = "<|im_start|>user\n";
    public const string AssistantRole = "<|im_start|>assistant\n";
    public const string Separator = "<|im_end|>";

    private const string BeforeCaption = "Text Caption: ";
    private const string BeforeCriteria = "\n"
        + "\n";
    private const string BeforeAspect = " A higher score indicates higher level of ";
    private const string AfterAspect = ". Ensure that your scoring is nuanced and uses the entire range from 0 to 100, reflecting the subtle differences. The score should be given as an integer, with each number between 0 and 100 considered as a potential score, avoiding the tendency to round to multiples of 5 or 10. Please first output a single line containing the value indicating the scores. In the subsequent line, please provide a comprehensive explanation of your evaluation, avoiding any potential bias.";

    public const string ImageTextMatchingCriteria = "Please evaluate if the provided text caption accurately represents the main features and objects of the image. The caption doesn't need to detail every aspect of the image, but it should capture its primary theme. Rate the overall quality of the text caption's match to the image on a scale of 1-100, considering the criteria mentioned.";

    public const string ObjectDetailFulfillmentCriteria = "Please evaluate the text caption to determine if it provides detailed descriptions of objects that align with the image. Specifically, assess if the caption sufficiently describes the color, size, position, shape, material, etc., of the objects. Afterward, rate the caption's overall accuracy in capturing object details from the image on a scale of 1-100, based on the criteria provided.";

    public const string CaptionTextQualityCriteria = "Please evaluate the text caption based on the following criteria: Grammatical Correctness, Diversity of Vocabulary (e.g., the range and uniqueness of words used), Fluency (e.g., smoothness and natural flow of sentences), Readability, Length, and Structure. Assign an overall quality score on a scale of 1-100.";

    public const string SemanticUnderstandingCriteria = "Evaluate the given text caption in relation to its corresponding image. Your goal is to determine if the text caption provides additional semantic information that isn't readily apparent just from the image itself.\n"
        + "\n"
        + "For example:\n"
        + "\n"
        + "1. If the image mentions \"a man\" but the caption elaborates he is a \"homeless man\" or a \"businessman,\" then the caption is enriching the semantic context.\n"
        + "2. If the caption introduces concepts like the mathematical tangent function, which require in-depth knowledge to deduce, it is imparting external semantics.\n"
        + "3. Captions revealing specific location addresses, festival details, or other nuanced data not easy to infer from the image also provide external semantic information.\n"
        + "4. Directly identifying specific entities in the image such as buildings, people, bird species, animal breeds, car models, engines, etc., in the caption introduces additional insights.\n"
        + "5. Should the image act as a contextual backdrop and the caption describes elements not explicitly showcased in the image, it has semantic depth.\n"
        + "6. Lastly, if the caption depicts relationships between the subjects in the image, which need commonsense knowledge to understand, it should be considered semantically rich.\n"
        + "\n"
        + "Please assess and determine the extent of semantic enrichment the caption provides over the image. Rate the text caption's semantic depth on a scale from 1 to 100.";

    public static string Criteria(MlmFilterMetric metric) => metric.Task switch
    {
        "image_text_matching" => ImageTextMatchingCriteria,
        "object_detail_fulfillment" => ObjectDetailFulfillmentCriteria,
        "caption_text_quality" => CaptionTextQualityCriteria,
        "semantic_understanding" => SemanticUnderstandingCriteria,
        _ => throw new ArgumentOutOfRangeException(nameof(metric), metric.Task, "not an MLM-Filter metric"),
    };

    /// <summary>The instruction (the reference's template filled as Python's str.format fills it: plain substitution).</summary>
    public static string Instruction(string caption, MlmFilterMetric metric) =>
        BeforeCaption + caption + BeforeCriteria + Criteria(metric) + BeforeAspect + metric.Task.Replace('_', ' ') + AfterAspect;

    /// <summary>The whole prompt text, with one <c>&lt;image&gt;</c> placeholder.</summary>
    public static string Prompt(string caption, MlmFilterMetric metric) =>
        SystemTurn + Separator + UserRole + "<image>\n" + Instruction(caption, metric) + Separator + AssistantRole;
}
