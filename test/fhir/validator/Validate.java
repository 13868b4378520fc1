/*
 * wardgate's FHIR R4 check: HAPI FHIR's instance validator (the engine of HL7's reference
 * validator) with the base R4 StructureDefinitions, the vital-signs profiles and the R4 value
 * sets, offline (no terminology server: LOINC codes are checked for form, not looked up).
 *
 * Each resource is validated against base R4 and against every profile its meta.profile claims
 * (for wardgate: vitalsigns, bp). Besides HAPI's messages, every reference id is checked against
 * the FHIR id rule, which HAPI does not apply to references.
 *
 * Usage: java -cp <jars>:<classes> Validate [file ...]
 *   With files: validates each (a JSON array of resources) and prints one JSON line per file.
 *   Without:    reads file paths from stdin, one a line, answers one JSON line each (a test file
 *               starts the JVM once and sends all its files through it). "ready" is printed first.
 * Answer: {"file":..., "count":N, "results":[{"index":i,"id":..., "messages":[{"severity","location","message"}]}]}
 * Only error and fatal messages are reported unless WARDGATE_FHIR_WARNINGS=1 (then warnings too).
 */
import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.DefaultProfileValidationSupport;
import ca.uhn.fhir.validation.FhirValidator;
import ca.uhn.fhir.validation.ResultSeverityEnum;
import ca.uhn.fhir.validation.SingleValidationMessage;
import ca.uhn.fhir.validation.ValidationResult;
import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;
import org.hl7.fhir.common.hapi.validation.support.CommonCodeSystemsTerminologyService;
import org.hl7.fhir.common.hapi.validation.support.InMemoryTerminologyServerValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.SnapshotGeneratingValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.ValidationSupportChain;
import org.hl7.fhir.common.hapi.validation.validator.FhirInstanceValidator;
import org.hl7.fhir.r5.utils.validation.constants.BestPracticeWarningLevel;

public class Validate {
  private static final Pattern FHIR_ID = Pattern.compile("[A-Za-z0-9\\-.]{1,64}");
  private static final Pattern RELATIVE_REF = Pattern.compile("([A-Z][A-Za-z]+)/(.*)");

  public static void main(String[] args) throws Exception {
    boolean warnings = "1".equals(System.getenv("WARDGATE_FHIR_WARNINGS"));
    FhirContext ctx = FhirContext.forR4();
    ValidationSupportChain chain = new ValidationSupportChain(
        new DefaultProfileValidationSupport(ctx),
        new SnapshotGeneratingValidationSupport(ctx),
        new InMemoryTerminologyServerValidationSupport(ctx),
        new CommonCodeSystemsTerminologyService(ctx));
    FhirInstanceValidator module = new FhirInstanceValidator(chain);
    module.setAnyExtensionsAllowed(true);
    // "should have narrative", "should have a performer": advice for authored records, not device data.
    module.setBestPracticeWarningLevel(BestPracticeWarningLevel.Ignore);
    FhirValidator validator = ctx.newValidator().registerValidatorModule(module);
    Gson gson = new Gson();
    if (args.length > 0) {
      for (String f : args) System.out.println(gson.toJson(validateFile(validator, f, warnings)));
      return;
    }
    System.out.println("ready");
    System.out.flush();
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    while ((line = in.readLine()) != null) {
      if (line.isBlank()) continue;
      JsonObject answer;
      try {
        answer = validateFile(validator, line.trim(), warnings);
      } catch (Exception e) {
        answer = new JsonObject();
        answer.addProperty("file", line.trim());
        answer.addProperty("failure", e.toString());
      }
      System.out.println(gson.toJson(answer));
      System.out.flush();
    }
  }

  static JsonObject validateFile(FhirValidator validator, String file, boolean warnings) throws Exception {
    JsonArray resources = JsonParser.parseString(Files.readString(Path.of(file), StandardCharsets.UTF_8)).getAsJsonArray();
    JsonArray results = new JsonArray();
    for (int i = 0; i < resources.size(); i++) {
      JsonObject resource = resources.get(i).getAsJsonObject();
      JsonArray messages = new JsonArray();
      ValidationResult result = validator.validateWithResult(resource.toString());
      for (SingleValidationMessage m : result.getMessages()) {
        ResultSeverityEnum s = m.getSeverity();
        boolean report = s == ResultSeverityEnum.ERROR || s == ResultSeverityEnum.FATAL || (warnings && s == ResultSeverityEnum.WARNING);
        if (report) messages.add(message(s.getCode(), m.getLocationString(), m.getMessage()));
      }
      checkReferences(resource, resource.has("resourceType") ? resource.get("resourceType").getAsString() : "?", messages);
      JsonObject r = new JsonObject();
      r.addProperty("index", i);
      if (resource.has("id")) r.addProperty("id", resource.get("id").getAsString());
      r.add("messages", messages);
      results.add(r);
    }
    JsonObject answer = new JsonObject();
    answer.addProperty("file", file);
    answer.addProperty("count", resources.size());
    answer.add("results", results);
    return answer;
  }

  /** Every "reference": "Type/id" anywhere in the resource: the id part must be a valid FHIR id. */
  static void checkReferences(JsonElement e, String path, JsonArray messages) {
    if (e.isJsonObject()) {
      for (var entry : e.getAsJsonObject().entrySet()) {
        String p = path + "." + entry.getKey();
        JsonElement v = entry.getValue();
        if (entry.getKey().equals("reference") && v.isJsonPrimitive()) {
          var m = RELATIVE_REF.matcher(v.getAsString());
          if (m.matches() && !FHIR_ID.matcher(m.group(2)).matches()) {
            messages.add(message("error", p, "reference id '" + m.group(2) + "' is not a valid FHIR id ([A-Za-z0-9-.]{1,64})"));
          }
        } else {
          checkReferences(v, p, messages);
        }
      }
    } else if (e.isJsonArray()) {
      JsonArray a = e.getAsJsonArray();
      for (int i = 0; i < a.size(); i++) checkReferences(a.get(i), path + "[" + i + "]", messages);
    }
  }

  static JsonObject message(String severity, String location, String text) {
    JsonObject o = new JsonObject();
    o.addProperty("severity", severity);
    o.addProperty("location", location);
    o.addProperty("message", text);
    return o;
  }
}
