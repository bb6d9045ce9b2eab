import type { UiError } from './ui-error.js';

const idOf = (form: string, field: string): string => `${form}-error${field.replaceAll('/', '-')}`;

/** Props for an input whose field may be the one a validation error names: marked invalid and described by the message. */
export function fieldProps(error: UiError | null, form: string, field: string): { 'aria-invalid'?: true; 'aria-describedby'?: string } {
  return error?.field === field ? { 'aria-invalid': true, 'aria-describedby': idOf(form, field) } : {};
}

/** The server's message beside the input it is about (rendered only when `error` names `field`). */
export function FieldError({ error, form, field }: { error: UiError | null; form: string; field: string }) {
  if (error?.field !== field) return null;
  return (
    <span className="field-error" id={idOf(form, field)} role="alert" data-testid="field-error" data-field={field} data-code={error.code}>
      {/* Beside its input the field need not be named again: "body /username: must match…" reads "must match…". */}
      {error.message.replace(`body ${field}: `, '')}
    </span>
  );
}
